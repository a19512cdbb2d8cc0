package io.baton.routing;

import static io.baton.routing.Members.member;
import static io.baton.routing.Members.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LeastConnectionsBalancerTest {
  private static final PickContext CTX = PickContext.of(Members.client(1));

  @ParameterizedTest(name = "active {0} weights {1} -> {2}")
  @CsvSource(
      delimiter = '|',
      value = {
        // active connections | weights | expected
        "5 2 7                | 1 1 1   | n1",
        "0 0 1                | 1 3 1   | n1",
        "2 5 9                | 1 3 1   | n1",
        "2 9 9                | 1 3 3   | n0",
        "4 8 9                | 1 2 3   | n2",
        "0 0 0                | 0 1 2   | n2",
        "0 9 9                | 0 1 2   | n2",
        "100 0 0              | 1 0 0   | n0"
      })
  void picksFewestConnectionsPerWeight(String active, String weights, String expected) {
    List<Member> members = weighted(ints(weights));
    int[] loads = ints(active);
    LoadView load = node -> loads[Integer.parseInt(node.substring(1))];

    assertThat(new LeastConnectionsBalancer(members, load).pick(CTX, Set.of()))
        .map(Member::node)
        .contains(expected);
  }

  @Test
  void idleEqualMembersShareConnectionsRoundRobin() {
    LeastConnectionsBalancer balancer = new LeastConnectionsBalancer(weighted(1, 1, 1), n -> 0);

    List<Member> picks = new ArrayList<>();
    for (int i = 0; i < 300; i++) picks.add(balancer.pick(CTX, Set.of()).orElseThrow());

    assertThat(Members.count(picks))
        .containsExactlyInAnyOrderEntriesOf(Map.of("n0", 100, "n1", 100, "n2", 100));
  }

  @Test
  void withOwnCountsLoadFollowsWeights() {
    LoadTable table = new LoadTable();
    LeastConnectionsBalancer balancer = new LeastConnectionsBalancer(weighted(1, 2, 3), table);

    List<Member> picks = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      Member m = balancer.pick(CTX, Set.of()).orElseThrow();
      table.increment(m.node());
      picks.add(m);
    }

    assertThat(Members.count(picks))
        .containsExactlyInAnyOrderEntriesOf(Map.of("n0", 100, "n1", 200, "n2", 300));
  }

  @Test
  void exclusionSkipsToTheNextLeastLoaded() {
    int[] loads = {1, 2, 3};
    LoadView load = node -> loads[Integer.parseInt(node.substring(1))];
    LeastConnectionsBalancer balancer = new LeastConnectionsBalancer(weighted(1, 1, 1), load);

    assertThat(balancer.pick(CTX, Set.of("n0"))).map(Member::node).contains("n1");
    assertThat(balancer.pick(CTX, Set.of("n0", "n1"))).map(Member::node).contains("n2");
    assertThat(balancer.pick(CTX, Set.of("n0", "n1", "n2"))).isEmpty();
  }

  @Test
  void weightZeroIsNeverPicked() {
    LeastConnectionsBalancer balancer =
        new LeastConnectionsBalancer(
            List.of(member("drained", 0), member("busy", 1)), n -> n.equals("busy") ? 1000 : 0);

    for (int i = 0; i < 10; i++) {
      assertThat(balancer.pick(CTX, Set.of())).map(Member::node).contains("busy");
    }
    assertThat(balancer.pick(CTX, Set.of("busy"))).isEmpty();
    assertThat(new LeastConnectionsBalancer(List.of(), n -> 0).pick(CTX, Set.of())).isEmpty();
  }

  static int[] ints(String spaced) {
    return Arrays.stream(spaced.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
  }
}
