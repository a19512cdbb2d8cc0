package io.baton.routing;

import static io.baton.routing.Members.member;
import static io.baton.routing.Members.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PoolTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "least-connections, LeastConnectionsBalancer",
    "weighted-round-robin, WeightedRoundRobinBalancer",
    "consistent-hash, ConsistentHashBalancer",
    "locality, LocalityBalancer"
  })
  void buildsTheBalancerOfItsKind(String configName, String balancerClass) {
    BalanceKind kind = BalanceKind.fromConfig(configName);
    Pool pool = Pool.create("web", kind, weighted(1, 2), new LoadTable());

    assertThat(kind.configName()).isEqualTo(configName);
    assertThat(pool.balancer().getClass().getSimpleName()).isEqualTo(balancerClass);
    assertThat(pool.balancer().members()).isEqualTo(pool.members());
    assertThat(pool.pick(PickContext.of(Members.client(1)), Set.of())).isPresent();
  }

  @Test
  void hashingPoolsUseTheConfiguredKey() {
    Pool pool =
        Pool.create(
            "cache",
            BalanceKind.CONSISTENT_HASH,
            weighted(1, 1),
            new LoadTable(),
            HashKey.fromConfig("path"));

    assertThat(((ConsistentHashBalancer) pool.balancer()).key()).isEqualTo(HashKey.PATH);
  }

  @Test
  void refusesBadConfiguration() {
    assertThatThrownBy(() -> BalanceKind.fromConfig("random"))
        .hasMessageContaining(
            "use least-connections, weighted-round-robin, consistent-hash or locality");
    assertThatThrownBy(() -> HashKey.fromConfig("cookie"))
        .hasMessageContaining("use client-ip, host or path");
    assertThatThrownBy(
            () ->
                Pool.create(
                    "web",
                    BalanceKind.LEAST_CONNECTIONS,
                    List.of(member("a", 1), member("a", 2)),
                    new LoadTable()))
        .hasMessageContaining("lists node 'a' twice");
    assertThatThrownBy(
            () ->
                new Pool(
                    "web",
                    BalanceKind.LEAST_CONNECTIONS,
                    weighted(1),
                    new WeightedRoundRobinBalancer(weighted(1, 1))))
        .hasMessageContaining("balancer has other members");
    assertThatThrownBy(() -> member("a", -1)).hasMessageContaining("weight of member 'a'");
    assertThatThrownBy(() -> member("a", Member.MAX_WEIGHT + 1))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
