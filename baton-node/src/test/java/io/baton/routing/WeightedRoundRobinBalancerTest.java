package io.baton.routing;

import static io.baton.routing.Members.member;
import static io.baton.routing.Members.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WeightedRoundRobinBalancerTest {
  private static final PickContext CTX = PickContext.of(Members.client(1));

  @ParameterizedTest(name = "weights {0}")
  @CsvSource({"5 3 2", "1 1 1 1 1 1 1 1 1 1", "1 9", "7 2 1", "10 0 0"})
  void thousandPicksMatchWeightsExactly(String weights) {
    int[] w = LeastConnectionsBalancerTest.ints(weights);
    WeightedRoundRobinBalancer balancer = new WeightedRoundRobinBalancer(weighted(w));

    Map<String, Integer> counts = Members.count(picks(balancer, 1000, Set.of()));

    for (int i = 0; i < w.length; i++) {
      assertThat(counts.getOrDefault("n" + i, 0)).as("n%d", i).isEqualTo(w[i] * 100);
    }
  }

  @Test
  void spreadsPicksSmoothly() {
    WeightedRoundRobinBalancer balancer =
        new WeightedRoundRobinBalancer(List.of(member("a", 5), member("b", 1), member("c", 1)));

    assertThat(picks(balancer, 14, Set.of()))
        .extracting(Member::node)
        .containsExactly("a", "a", "b", "a", "c", "a", "a", "a", "a", "b", "a", "c", "a", "a");
  }

  @Test
  void excludedMembersSitOutAndOthersKeepTheirRatio() {
    WeightedRoundRobinBalancer balancer = new WeightedRoundRobinBalancer(weighted(1, 2, 3));

    Map<String, Integer> counts = Members.count(picks(balancer, 500, Set.of("n2")));

    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of("n0", 167, "n1", 333));
    assertThat(balancer.pick(CTX, Set.of("n0", "n1", "n2"))).isEmpty();
  }

  @Test
  void weightZeroIsNeverPicked() {
    WeightedRoundRobinBalancer balancer = new WeightedRoundRobinBalancer(weighted(0, 1, 0));

    assertThat(Members.count(picks(balancer, 50, Set.of()))).containsOnlyKeys("n1");
    assertThat(balancer.pick(CTX, Set.of("n1"))).isEmpty();
    assertThat(new WeightedRoundRobinBalancer(weighted(0, 0)).pick(CTX, Set.of())).isEmpty();
  }

  @Test
  void concurrentPicksStillMatchWeightsExactly() throws Exception {
    WeightedRoundRobinBalancer balancer = new WeightedRoundRobinBalancer(weighted(1, 2, 3, 4));
    List<Member> all = Collections.synchronizedList(new ArrayList<>());
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        done.add(pool.submit(() -> all.addAll(picks(balancer, 1000, Set.of()))));
      }
      for (Future<?> f : done) f.get();
    }

    assertThat(Members.count(all))
        .containsExactlyInAnyOrderEntriesOf(Map.of("n0", 800, "n1", 1600, "n2", 2400, "n3", 3200));
  }

  private static List<Member> picks(Balancer balancer, int n, Set<String> exclude) {
    List<Member> picks = new ArrayList<>();
    for (int i = 0; i < n; i++) picks.add(balancer.pick(CTX, exclude).orElseThrow());
    return picks;
  }
}
