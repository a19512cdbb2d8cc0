package io.baton.server.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.server.delivery.UpstreamChooser.Upstream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The choice among workers, with a fake clock. */
class WorkerPoolTest {
  private long now;
  private final WorkerPool pool =
      new WorkerPool("vip:80", WorkerPool.Balance.LEAST_CONNECTIONS, () -> now);

  private static InetSocketAddress at(int port) {
    return new InetSocketAddress("127.0.0.1", port);
  }

  private String pick() {
    Upstream u = pool.choose(Set.of());
    return u == null ? null : ((WorkerPool.Worker) u).name();
  }

  @Test
  void leastConnectionsSpreadsEvenlyAndFillsTheEmptiestFirst() {
    for (int i = 1; i <= 4; i++) pool.add("w" + i, at(8080 + i), 1);
    Map<String, Integer> counts = new HashMap<>();
    List<Upstream> held = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Upstream u = pool.choose(Set.of());
      held.add(u);
      counts.merge(((WorkerPool.Worker) u).name(), 1, Integer::sum);
    }
    assertThat(counts)
        .containsOnly(
            Map.entry("w1", 10), Map.entry("w2", 10), Map.entry("w3", 10), Map.entry("w4", 10));
    // w3's connections end: the next ones go there.
    held.stream()
        .filter(u -> ((WorkerPool.Worker) u).name().equals("w3"))
        .limit(5)
        .forEach(Upstream::released);
    for (int i = 0; i < 5; i++) assertThat(pick()).isEqualTo("w3");
  }

  @Test
  void weightsShareConnectionsInProportion() {
    WorkerPool rr = new WorkerPool("vip:80", WorkerPool.Balance.ROUND_ROBIN, () -> now);
    rr.add("blue", at(8081), 3);
    rr.add("green", at(8082), 1);
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 8; i++) order.add(((WorkerPool.Worker) rr.choose(Set.of())).name());
    assertThat(order.stream().filter("blue"::equals).count()).isEqualTo(6);
    assertThat(order.subList(0, 4))
        .contains("green"); // interleaved, not 3 blue then 1 green at the end only
    rr.setWeight("blue", 0);
    for (int i = 0; i < 4; i++)
      assertThat(((WorkerPool.Worker) rr.choose(Set.of())).name()).isEqualTo("green");
  }

  @Test
  void aFailedWorkerIsSkippedUntilItsPauseEndsThenProbedOnceAndBackOnSuccess() {
    pool.add("w1", at(8081), 1);
    pool.add("w2", at(8082), 1);
    Upstream first = pool.choose(Set.of());
    String dead = ((WorkerPool.Worker) first).name();
    String alive = dead.equals("w1") ? "w2" : "w1";
    first.failed("connection refused");
    // The relay retries on another worker, not the one that failed.
    Set<Upstream> tried = new HashSet<>(Set.of(first));
    assertThat(((WorkerPool.Worker) pool.choose(tried)).name()).isEqualTo(alive);
    for (int i = 0; i < 5; i++) assertThat(pick()).isEqualTo(alive);
    now += WorkerPool.RETRY_AFTER_NS;
    Upstream probe = pool.choose(Set.of());
    assertThat(((WorkerPool.Worker) probe).name()).as("the probe").isEqualTo(dead);
    assertThat(pick()).as("one probe at a time").isEqualTo(alive);
    probe.connected();
    assertThat(pool.describe()).allSatisfy(row -> assertThat(row.get("state")).isEqualTo("up"));
  }

  @Test
  void drainedAndZeroWeightWorkersGetNothingAndNoneLeftIsNull() {
    pool.add("w1", at(8081), 1);
    pool.add("w2", at(8082), 1);
    pool.setDraining("w1", true);
    for (int i = 0; i < 3; i++) assertThat(pick()).isEqualTo("w2");
    pool.setWeight("w2", 0);
    assertThat(pick()).isNull();
    pool.setDraining("w1", false);
    assertThat(pick()).isEqualTo("w1");
    Upstream w1 = pool.choose(Set.of());
    assertThat(pool.choose(Set.of(w1))).isNull();
    assertThatThrownBy(() -> pool.setWeight("w9", 1)).hasMessageContaining("has no worker w9");
    assertThatThrownBy(() -> pool.add("w1", at(9000), 1))
        .hasMessageContaining("already has a worker w1");
    assertThatThrownBy(() -> pool.setWeight("w1", 5000)).hasMessageContaining("0..1000");
  }
}
