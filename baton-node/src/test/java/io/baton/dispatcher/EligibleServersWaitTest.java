package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.routing.BalanceKind;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.Pool;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link DispatcherNode#awaitEligibleServers}: what a process taking over waits for. */
class EligibleServersWaitTest {
  private static final long LATER = TimeUnit.SECONDS.toNanos(30);

  @Test
  void waitsUntilTheFarmLetsAServerOfEveryPoolTakeConnections() {
    Pool web = pool("web", member("s1", 1, false), member("s2", 1, false));
    Pool api = pool("api", member("s3", 1, false));
    AtomicInteger asked = new AtomicInteger();
    // Nobody is in the sync view for the first rounds (a cluster founded alone), then s2 and s3.
    ServerEligibility farm =
        node -> {
          return asked.incrementAndGet() > 9 && !node.equals("s1")
              ? null
              : "not a member of the sync view";
        };
    DispatcherNode.awaitEligibleServers(List.of(web, api), farm, System.nanoTime() + LATER);
    assertThat(asked.get())
        .as("eligibility asked until s2 and s3 may take connections")
        .isGreaterThan(9);
    assertThat(farm.refusal("s2")).isNull();
    assertThat(farm.refusal("s3")).isNull();
  }

  @Test
  void aLocalMemberServesAtOnceAndADrainedOneNever() {
    AtomicInteger asked = new AtomicInteger();
    ServerEligibility nobody =
        node -> {
          asked.incrementAndGet();
          return "no load report yet";
        };
    // Peer mode: this node serves the pool itself.
    DispatcherNode.awaitEligibleServers(
        List.of(pool("peers", member("p1", 1, true), member("p2", 1, false))),
        nobody,
        System.nanoTime() + LATER);
    assertThat(asked.get()).as("not asked about p2: p1 is this node").isZero();
    // A member with weight 0 is never picked: it does not end the wait, even if the farm allows it.
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    DispatcherNode.awaitEligibleServers(
        List.of(pool("web", member("s1", 0, false))), node -> null, deadline);
    assertThat(System.nanoTime() - deadline).as("waited out the deadline").isNotNegative();
  }

  @Test
  void givesUpAtTheDeadline() {
    long deadline = System.nanoTime();
    AtomicInteger asked = new AtomicInteger();
    DispatcherNode.awaitEligibleServers(
        List.of(pool("web", member("s1", 1, false))),
        node -> {
          asked.incrementAndGet();
          return "not a member of the sync view";
        },
        deadline);
    assertThat(asked.get()).as("asked once, then past the deadline").isEqualTo(1);
  }

  private static Pool pool(String name, Member... members) {
    return Pool.create(name, BalanceKind.WEIGHTED_ROUND_ROBIN, List.of(members), new LoadTable());
  }

  private static Member member(String node, int weight, boolean local) {
    InetAddress a = InetAddress.getLoopbackAddress();
    return new Member(node, new InetSocketAddress(a, 7400), a, weight, local);
  }
}
