package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The harness's arithmetic, with made-up counters: CPU deltas, per-request division, and the
 * aggregation of repeats (which runs a median rests on, and how that is shown).
 */
class BenchArithmeticTest {
  private static final ResponseSize KIB = ResponseSize.parse("1k");

  @Test
  void cpuDeltasSubtractEveryField() {
    CpuTimes a = new CpuTimes(100, 20, 1000, 300, 4000);
    CpuTimes b = new CpuTimes(350, 70, 1500, 900, 5000);
    assertThat(b.minus(a)).isEqualTo(new CpuTimes(250, 50, 500, 600, 1000));
  }

  @Test
  void aSpinnersTicksAreTakenOutOfCpu0AndTheMachine() {
    CpuTimes delta = new CpuTimes(500, 50, 500, 700, 1000);
    assertThat(delta.withoutCpu0Load(420)).isEqualTo(new CpuTimes(80, 50, 500, 280, 1000));
    assertThat(delta.withoutCpu0Load(900).cpu0Busy()).isZero();
  }

  @Test
  void figuresAreCpuTimePerRequest() {
    // 250 ticks of CPU 0 = 2.5 s of CPU over 10,000 requests = 250 µs each.
    Measurement m =
        measurement(
            SystemKind.HAPROXY,
            1,
            10_000,
            0,
            new CpuTimes(250, 50, 500, 600, 1000),
            200,
            5_000_000);
    assertThat(m.balancerCpuUsPerRequest()).isEqualTo(250.0);
    assertThat(m.balancerProcessUsPerRequest()).isEqualTo(200.0);
    assertThat(m.machineCpuUsPerRequest()).isEqualTo(600.0);
    assertThat(m.frontBytesPerRequest()).isEqualTo(500.0);
    assertThat(m.requestsPerSecond()).isEqualTo(2000.0);
  }

  @Test
  void aRunWithoutRequestsDoesNotDivideByZero() {
    Measurement m =
        measurement(SystemKind.HAPROXY, 1, 0, 0, new CpuTimes(250, 0, 500, 600, 1000), 0, 0);
    assertThat(m.balancerCpuUsPerRequest()).isEqualTo(2_500_000.0);
    assertThat(m.requestsPerSecond()).isZero();
  }

  @Test
  void mediansRestOnCleanRunsAndTheCountsSaySo() {
    BenchPlan plan = plan(3);
    BenchResults results = new BenchResults();
    results.add(measurement(SystemKind.HAPROXY, 1, 10_000, 0, cpu(100), 50, 0));
    results.add(
        measurement(
            SystemKind.HAPROXY, 2, 80, 3, cpu(100), 50, 0)); // the broken run: 16 req/s, timeouts
    results.failRun(
        SystemKind.HAPROXY, ConnectionMode.CLOSE, KIB, 3, "wrk did not finish within 35 s");

    ConfigResult r = results.aggregate(plan).getFirst();

    assertThat(r.runs()).isEqualTo(1);
    assertThat(r.planned()).isEqualTo(3);
    assertThat(r.excluded()).isEqualTo(1);
    assertThat(r.failed()).isEqualTo(1);
    assertThat(r.runCount()).isEqualTo("1/3, 1 excluded (errors), 1 failed");
    assertThat(r.requestsPerSecond().median()).isEqualTo(2000.0); // not the broken run's 16
    assertThat(r.errors()).isEqualTo(3);
    assertThat(results.failures())
        .containsExactly("[3] haproxy close 1 KiB: wrk did not finish within 35 s");
    assertThat(ReportWriter.table(List.of(r))).contains("| 1/3, 1 excluded (errors), 1 failed |");
  }

  @Test
  void aConfigurationWhoseRunsAllFailedStillShows() {
    BenchResults results = new BenchResults();
    results.failRun(SystemKind.HAPROXY, ConnectionMode.CLOSE, KIB, 1, "timed out");
    ConfigResult r = results.aggregate(plan(1)).getFirst();
    assertThat(r.runCount()).isEqualTo("0/1, 1 failed");
    assertThat(r.requestsPerSecond().median()).isNaN();
  }

  private static CpuTimes cpu(long cpu0Ticks) {
    return new CpuTimes(cpu0Ticks, 0, 500, cpu0Ticks * 2, 1000);
  }

  private static Measurement measurement(
      SystemKind system,
      int repeat,
      long requests,
      long timeouts,
      CpuTimes cpu,
      long processTicks,
      long frontBytes) {
    Wrk.Result wrk = new Wrk.Result(requests, 5.0, 100, 200, timeouts, 0);
    return Measurement.of(
        system, ConnectionMode.CLOSE, KIB, repeat, wrk, 3.0, cpu, processTicks, frontBytes, 0);
  }

  private static BenchPlan plan(int repeats) {
    return new BenchPlan(
        List.of(SystemKind.HAPROXY),
        List.of(KIB),
        List.of(ConnectionMode.CLOSE),
        Duration.ofSeconds(5),
        Duration.ofSeconds(1),
        Duration.ZERO,
        repeats,
        16,
        0);
  }
}
