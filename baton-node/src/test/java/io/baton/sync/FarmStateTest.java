package io.baton.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FarmStateTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong clock = new AtomicLong(1_000 * MS);
  private final FarmState farm = new FarmState(750 * MS, clock::get);

  private static NodeReport report(
      String node, long incarnation, long sequence, boolean healthy, boolean draining)
      throws Exception {
    return new NodeReport(
        node,
        "server",
        (Inet4Address) InetAddress.getByName("198.18.1.11"),
        incarnation,
        sequence,
        1,
        0,
        0,
        healthy,
        healthy ? "ok" : "http 127.0.0.1:8080/healthz: status 503",
        draining);
  }

  @Test
  void aNodeNeedsTheViewAFreshReportHealthAndNoDrain() throws Exception {
    assertThat(farm.refusal("s1")).isEqualTo("not a member of the sync view");
    farm.view(Set.of("d1", "s1"));
    assertThat(farm.refusal("s1")).isEqualTo("no load report yet");
    farm.report(report("s1", 1, 1, true, false));
    assertThat(farm.refusal("s1")).isNull();
    clock.addAndGet(750 * MS);
    assertThat(farm.refusal("s1")).isNull();
    clock.addAndGet(MS);
    assertThat(farm.refusal("s1")).isEqualTo("no load report for 751 ms");
    farm.report(report("s1", 1, 2, false, false));
    assertThat(farm.refusal("s1"))
        .startsWith("its health check fails (http 127.0.0.1:8080/healthz");
    farm.report(report("s1", 1, 3, true, true));
    assertThat(farm.refusal("s1")).isEqualTo("draining");
    farm.report(report("s1", 1, 4, true, false));
    assertThat(farm.refusal("s1")).isNull();
  }

  @Test
  void aReplayedOrOlderReportChangesNothing() throws Exception {
    farm.view(Set.of("s1"));
    assertThat(farm.report(report("s1", 5, 10, true, false))).isTrue();
    assertThat(farm.report(report("s1", 5, 10, false, false))).as("same sequence").isFalse();
    assertThat(farm.report(report("s1", 5, 9, false, false))).as("older sequence").isFalse();
    assertThat(farm.report(report("s1", 4, 99, false, false))).as("older incarnation").isFalse();
    assertThat(farm.refusal("s1")).isNull();
    assertThat(farm.reportsReplayed.sum()).isEqualTo(3);
    assertThat(farm.report(report("s1", 6, 1, false, false))).as("a restarted process").isTrue();
    assertThat(farm.refusal("s1")).startsWith("its health check fails");
  }

  @Test
  void leavingTheViewForgetsTheReport() throws Exception {
    farm.view(Set.of("s1", "s2"));
    farm.report(report("s1", 1, 1, true, false));
    farm.view(Set.of("s2"));
    assertThat(farm.refusal("s1")).isEqualTo("not a member of the sync view");
    farm.view(Set.of("s1", "s2"));
    assertThat(farm.refusal("s1"))
        .as("back in the view, but no report since")
        .isEqualTo("no load report yet");
    assertThat(farm.snapshot().report("s1")).isNull();
  }

  @Test
  void snapshotsAreImmutable() throws Exception {
    farm.view(Set.of("s1"));
    FarmSnapshot before = farm.snapshot();
    farm.report(report("s1", 1, 1, true, false));
    assertThat(before.report("s1")).isNull();
    assertThat(farm.snapshot().report("s1").activeConnections()).isEqualTo(1);
  }
}
