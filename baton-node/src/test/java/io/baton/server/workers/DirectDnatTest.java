package io.baton.server.workers;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The DNAT table's text for a pool as it changes (the lab test applies it to a real kernel). */
class DirectDnatTest {
  private static InetSocketAddress at(String ip, int port) {
    return new InetSocketAddress(InetAddress.ofLiteral(ip), port);
  }

  @Test
  void theMapFollowsWeightsDrainsAndDownWorkers() {
    long[] now = {0};
    WorkerPool pool =
        new WorkerPool("198.18.0.100:80", WorkerPool.Balance.LEAST_CONNECTIONS, () -> now[0]);
    pool.add("blue", at("127.0.0.1", 8081), 3);
    pool.add("green", at("127.0.0.1", 8082), 1);
    pool.add("spare", at("198.18.0.11", 8083), 1);
    int[] changes = {0};
    pool.onChange(() -> changes[0]++);
    Map<InetSocketAddress, WorkerPool> pools = new LinkedHashMap<>();
    pools.put(at("198.18.0.11", 80), pool);

    assertThat(DirectDnat.ruleset(pools, true))
        .isEqualTo(
            """
        table ip baton_workers {
          chain martians {
            type filter hook prerouting priority raw; policy accept;
            iifname != "lo" ip daddr 127.0.0.0/8 counter drop
          }
          chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            ip daddr 198.18.0.11 tcp dport 80 counter dnat ip to numgen random mod 5 map \
        { 0-2 : 127.0.0.1 . 8081, 3 : 127.0.0.1 . 8082, 4 : 198.18.0.11 . 8083 }
          }
        }
        """);

    pool.setDraining("spare", true);
    pool.workers().get(1).probed(false, "refused");
    assertThat(changes[0]).isEqualTo(2);
    assertThat(DirectDnat.ruleset(pools, false))
        .contains("numgen random mod 3 map { 0-2 : 127.0.0.1 . 8081 }")
        .doesNotContain("martians");
    pool.workers().get(1).probed(false, "refused again"); // no change: no rewrite
    assertThat(changes[0]).isEqualTo(2);

    pool.setWeight("blue", 0);
    assertThat(DirectDnat.ruleset(pools, false))
        .doesNotContain("dnat")
        .contains("# 198.18.0.100:80: no worker can take new connections");
    pool.workers().get(1).probed(true, null);
    assertThat(DirectDnat.ruleset(pools, false))
        .contains("numgen random mod 1 map { 0 : 127.0.0.1 . 8082 }");

    WorkerPool inTurn =
        new WorkerPool("198.18.0.100:81", WorkerPool.Balance.ROUND_ROBIN, () -> now[0]);
    inTurn.add("a", at("127.0.0.1", 9001), 1);
    assertThat(DirectDnat.ruleset(Map.of(at("198.18.0.11", 81), inTurn), false))
        .contains(
            "ip daddr 198.18.0.11 tcp dport 81 counter dnat ip to numgen inc mod 1 map { 0 : 127.0.0.1 . 9001 }");
  }
}
