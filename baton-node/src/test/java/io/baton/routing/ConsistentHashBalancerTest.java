package io.baton.routing;

import static io.baton.routing.Members.client;
import static io.baton.routing.Members.member;
import static io.baton.routing.Members.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Statistical tests for {@link ConsistentHashBalancer}. Keys are fixed client addresses and the
 * hash is deterministic, so the bounds are checked on the same numbers every run; they are set wide
 * enough to hold for any decent hash, not tuned to this one.
 */
class ConsistentHashBalancerTest {
  private static final int KEYS = 100_000;

  @Test
  void sameKeyAlwaysReachesTheSameMember() {
    ConsistentHashBalancer a = new ConsistentHashBalancer(weighted(1, 1, 1, 1), HashKey.CLIENT_IP);
    ConsistentHashBalancer b = new ConsistentHashBalancer(weighted(1, 1, 1, 1), HashKey.CLIENT_IP);

    for (int i = 0; i < 1000; i++) {
      PickContext ctx = PickContext.of(client(i));
      assertThat(a.pick(ctx, Set.of()))
          .isEqualTo(a.pick(ctx, Set.of()))
          .isEqualTo(b.pick(ctx, Set.of()));
    }
  }

  @Test
  void spreadsKeysEvenly() {
    List<Member> members = weighted(1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    Map<String, Integer> counts = Members.count(assign(members));

    assertThat(counts).hasSize(10);
    counts.forEach((node, n) -> assertThat(n).as(node).isBetween(7_000, 13_000));
  }

  @Test
  void heavierMembersGetProportionallyMoreKeys() {
    Map<String, Integer> counts = Members.count(assign(weighted(1, 2, 3, 4)));

    for (int i = 0; i < 4; i++) {
      double expected = KEYS * (i + 1) / 10.0;
      assertThat((double) counts.get("n" + i))
          .as("n%d", i)
          .isCloseTo(expected, within(expected * 0.2));
    }
  }

  @ParameterizedTest(name = "{0} members + 1")
  @CsvSource({"3", "5", "10", "20"})
  void addingAMemberMovesAboutOneNthOfTheKeysAllToIt(int n) {
    List<Member> before = weighted(new int[n]).stream().map(m -> m.withWeight(1)).toList();
    List<Member> after = new ArrayList<>(before);
    after.add(member("new", 1));

    List<Member> was = assign(before);
    List<Member> now = assign(after);

    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
      if (!was.get(i).equals(now.get(i))) {
        moved++;
        assertThat(now.get(i).node()).as("key %d moved", i).isEqualTo("new");
      }
    }
    double expected = 1.0 / (n + 1);
    assertThat(moved / (double) KEYS).isBetween(expected * 0.7, expected * 1.3);
  }

  @Test
  void removingAMemberMovesOnlyItsKeys() {
    List<Member> all = weighted(1, 1, 1, 1, 1, 1);
    List<Member> without = all.subList(1, all.size());

    List<Member> was = assign(all);
    List<Member> now = assign(without);

    for (int i = 0; i < KEYS; i++) {
      if (!was.get(i).node().equals("n0")) assertThat(now.get(i)).isEqualTo(was.get(i));
    }
  }

  @Test
  void exclusionGoesWhereTheKeyWouldGoWithoutTheExcludedMember() {
    List<Member> all = weighted(1, 1, 1, 1, 1);
    ConsistentHashBalancer full = new ConsistentHashBalancer(all, HashKey.CLIENT_IP);
    Map<Member, ConsistentHashBalancer> withoutOne = new HashMap<>();
    for (Member left : all) {
      withoutOne.put(
          left,
          new ConsistentHashBalancer(
              all.stream().filter(m -> !m.equals(left)).toList(), HashKey.CLIENT_IP));
    }

    for (int i = 0; i < 10_000; i++) {
      PickContext ctx = PickContext.of(client(i));
      Member first = full.pick(ctx, Set.of()).orElseThrow();
      Member second = full.pick(ctx, Set.of(first.node())).orElseThrow();

      assertThat(second)
          .isNotEqualTo(first)
          .isEqualTo(withoutOne.get(first).pick(ctx, Set.of()).orElseThrow());
    }
  }

  @Test
  void allExcludedOrDrainedGivesNothing() {
    ConsistentHashBalancer balancer =
        new ConsistentHashBalancer(weighted(0, 1, 0), HashKey.CLIENT_IP);

    for (int i = 0; i < 1000; i++) {
      assertThat(balancer.pick(PickContext.of(client(i)), Set.of()))
          .map(Member::node)
          .contains("n1");
    }
    assertThat(balancer.pick(PickContext.of(client(1)), Set.of("n1"))).isEmpty();
    assertThat(
            new ConsistentHashBalancer(weighted(0, 0), HashKey.CLIENT_IP)
                .pick(PickContext.of(client(1)), Set.of()))
        .isEmpty();
  }

  @Test
  void hostKeyIgnoresTheClientAndFallsBackToIt() {
    ConsistentHashBalancer byHost =
        new ConsistentHashBalancer(weighted(1, 1, 1, 1, 1, 1, 1, 1), HashKey.HOST);
    ConsistentHashBalancer byClient =
        new ConsistentHashBalancer(weighted(1, 1, 1, 1, 1, 1, 1, 1), HashKey.CLIENT_IP);

    Member forHost = byHost.pick(ctx(0, "a.example.com", "/x"), Set.of()).orElseThrow();
    for (int i = 1; i < 500; i++) {
      assertThat(byHost.pick(ctx(i, "a.example.com", "/" + i), Set.of())).contains(forHost);
      PickContext noHost = PickContext.of(client(i));
      assertThat(byHost.pick(noHost, Set.of())).isEqualTo(byClient.pick(noHost, Set.of()));
    }
    assertThat(Members.count(hosts(byHost))).hasSize(8);
  }

  @Test
  void pathKeyIgnoresClientAndHost() {
    ConsistentHashBalancer byPath = new ConsistentHashBalancer(weighted(1, 1, 1), HashKey.PATH);

    Member forPath = byPath.pick(ctx(0, "a", "/img/1.png"), Set.of()).orElseThrow();
    for (int i = 1; i < 200; i++) {
      assertThat(byPath.pick(ctx(i, "h" + i, "/img/1.png"), Set.of())).contains(forPath);
    }
  }

  private static List<Member> hosts(ConsistentHashBalancer balancer) {
    List<Member> picks = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      picks.add(balancer.pick(ctx(0, "site" + i + ".example", "/"), Set.of()).orElseThrow());
    }
    return picks;
  }

  private static PickContext ctx(int client, String host, String path) {
    return new PickContext(client(client), Optional.of(host), Optional.of(path));
  }

  /** The member each of {@link #KEYS} client addresses is assigned to. */
  private static List<Member> assign(List<Member> members) {
    ConsistentHashBalancer balancer = new ConsistentHashBalancer(members, HashKey.CLIENT_IP);
    List<Member> picks = new ArrayList<>(KEYS);
    for (int i = 0; i < KEYS; i++) {
      picks.add(balancer.pick(PickContext.of(client(i)), Set.of()).orElseThrow());
    }
    return picks;
  }
}
