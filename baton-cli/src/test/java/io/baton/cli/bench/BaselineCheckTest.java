package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** When a proxy baseline counts as measured at its best, and when the run is invalid. */
class BaselineCheckTest {
  @Test
  void aProxyThatSaturatesItsCpuIsValid() {
    // 250 µs per request at 3,800 req/s = 95 % of a CPU.
    assertThat(BaselineCheck.of(List.of(proxy("haproxy", 250, 3700, 3800, 3900))).valid()).isTrue();
  }

  @Test
  void aProxyThatMatchesDirectNginxIsValid() {
    assertThat(
            BaselineCheck.of(List.of(proxy("nginx-proxy", 50, 9000, 9500, 9800), direct(10_000)))
                .valid())
        .isTrue();
  }

  @Test
  void aProxyLimitedBySomethingElseIsInvalid() {
    BaselineCheck check =
        BaselineCheck.of(List.of(proxy("haproxy", 50, 3000, 3100, 3200), direct(10_000)));
    assertThat(check.valid()).isFalse();
    assertThat(check.problems())
        .singleElement()
        .asString()
        .contains(
            "haproxy close 1 KiB: neither saturated the balancer CPU (16% busy) nor matched direct nginx"
                + " (3100 vs 10000 req/s)");
    assertThat(check.lines().getFirst()).startsWith("Sanity check: INVALID");
  }

  /**
   * Keep-alive through a proxy: the farm side (CPU 1: wrk, nginx, the extra hop's receive work)
   * saturates first. From the committed run of 2026-11-29: HAProxy keep-alive 1 KiB at 26,820
   * req/s, CPU 0 66% busy, CPU 1 99.6%; HAProxy close 16 KiB at 4,669 req/s, CPU 0 73%, CPU 1 82%
   * (stalled: p99 ~50 ms).
   */
  @Test
  void aProxyHeldBackByTheFarmSideIsValidButOneThatNeitherCpuLimitedIsNot() {
    // 24.8 µs of CPU 0 and 37.1 µs of CPU 1 per request at 26,820 req/s: 66% and 99.5%.
    ConfigResult farmBound =
        new ConfigResult(
            "haproxy",
            "keep-alive",
            "1k",
            1024,
            1,
            1,
            0,
            0,
            100,
            0,
            Spread.of(26_820),
            Spread.of(1),
            Spread.of(1),
            Spread.of(24.8),
            Spread.of(20),
            Spread.of(0),
            Spread.of(24.8 + 37.1),
            null,
            Spread.of(1),
            Spread.of(0));
    ConfigResult directKeepAlive =
        new ConfigResult(
            "direct-nginx",
            "keep-alive",
            "1k",
            1024,
            1,
            1,
            0,
            0,
            100,
            0,
            Spread.of(40_452),
            Spread.of(1),
            Spread.of(1),
            Spread.of(0),
            Spread.of(0),
            Spread.of(0),
            Spread.of(1),
            null,
            Spread.of(1),
            Spread.of(0));
    assertThat(BaselineCheck.of(List.of(farmBound, directKeepAlive)).valid()).isTrue();

    // 155.5 µs of CPU 0 and 175.6 µs of CPU 1 per request at 4,669 req/s: 73% and 82%.
    ConfigResult stalled =
        new ConfigResult(
            "haproxy",
            "close",
            "16k",
            16384,
            1,
            1,
            0,
            0,
            100,
            0,
            Spread.of(4_669),
            Spread.of(1),
            Spread.of(1),
            Spread.of(155.5),
            Spread.of(100),
            Spread.of(0),
            Spread.of(155.5 + 175.6),
            null,
            Spread.of(1),
            Spread.of(0));
    assertThat(BaselineCheck.of(List.of(stalled)).problems())
        .singleElement()
        .asString()
        .contains("haproxy close 16 KiB: neither saturated the balancer CPU (73% busy)")
        .contains("nor was held back by the farm side (CPU 1 82% busy)");
  }

  @Test
  void repeatsThatDisagreeMakeTheRunInvalid() {
    BaselineCheck check = BaselineCheck.of(List.of(proxy("haproxy", 300, 16, 3400, 3489)));
    assertThat(check.problems())
        .singleElement()
        .asString()
        .contains("repeats differ more than 2x in req/s (16–3489)");
  }

  @Test
  void errorsOrFailedRunsOfAnySystemMakeTheRunInvalid() {
    ConfigResult baton =
        new ConfigResult(
            "baton-relay",
            "close",
            "1k",
            1024,
            2,
            3,
            0,
            1,
            100,
            0,
            Spread.of(1000),
            Spread.of(1),
            Spread.of(1),
            Spread.of(100),
            Spread.of(1),
            Spread.of(0),
            Spread.of(1),
            null,
            Spread.of(1),
            Spread.of(0));
    assertThat(BaselineCheck.of(List.of(baton)).problems())
        .singleElement()
        .asString()
        .isEqualTo("baton-relay close 1 KiB: only 2/3, 1 failed runs clean");
  }

  @Test
  void theLatencyProbeIsNotJudgedForSaturation() {
    ConfigResult serial =
        new ConfigResult(
            "haproxy",
            "close-c1",
            "1k",
            1024,
            1,
            1,
            0,
            0,
            100,
            0,
            Spread.of(900),
            Spread.of(1),
            Spread.of(1),
            Spread.of(20),
            Spread.of(1),
            Spread.of(0),
            Spread.of(1),
            null,
            Spread.of(1),
            Spread.of(0));
    assertThat(BaselineCheck.of(List.of(serial)).valid()).isTrue();
  }

  @Test
  void aPacedRunOfAnySystemBelowThePacedRateMakesTheRunInvalid() {
    ConfigResult kept = paced("baton-relay", 196);
    ConfigResult short_ = paced("haproxy", 150);
    assertThat(BaselineCheck.of(List.of(kept), List.of(), 200).valid()).isTrue();
    BaselineCheck check = BaselineCheck.of(List.of(kept, short_), List.of(), 200);
    assertThat(check.problems())
        .singleElement()
        .asString()
        .startsWith("haproxy paced 1 KiB: did not sustain the paced rate (150 of 200 req/s)");
  }

  private static ConfigResult paced(String system, double rps) {
    ConfigResult p = proxy(system, 100, rps);
    return new ConfigResult(
        p.system(),
        "paced",
        p.size(),
        p.sizeBytes(),
        p.runs(),
        p.planned(),
        p.excluded(),
        p.failed(),
        p.requests(),
        p.errors(),
        p.requestsPerSecond(),
        p.latencyP50Us(),
        p.latencyP99Us(),
        p.balancerCpuUsPerRequest(),
        p.balancerProcessUsPerRequest(),
        p.cpu0NoiseMsPerSecond(),
        p.machineCpuUsPerRequest(),
        p.machineCpuOverDirectUsPerRequest(),
        p.frontBytesPerRequest(),
        Spread.of(0));
  }

  private static ConfigResult proxy(String system, double cpuUs, double... rps) {
    return new ConfigResult(
        system,
        "close",
        "1k",
        1024,
        rps.length,
        rps.length,
        0,
        0,
        100,
        0,
        Spread.of(rps),
        Spread.of(1),
        Spread.of(1),
        Spread.of(cpuUs),
        Spread.of(cpuUs),
        Spread.of(0),
        Spread.of(1),
        null,
        Spread.of(1),
        Spread.of(0));
  }

  private static ConfigResult direct(double rps) {
    return new ConfigResult(
        "direct-nginx",
        "close",
        "1k",
        1024,
        1,
        1,
        0,
        0,
        100,
        0,
        Spread.of(rps),
        Spread.of(1),
        Spread.of(1),
        Spread.of(0),
        Spread.of(0),
        Spread.of(0),
        Spread.of(1),
        null,
        Spread.of(1),
        Spread.of(0));
  }

  /** A system that did not start has no rows in the table; the run must still not read as clean. */
  @Test
  void aSystemThatDidNotStartMakesTheRunInvalid() {
    BaselineCheck check =
        BaselineCheck.of(
            List.of(), List.of("[1/1] baton-relay: did not start: not ready after 30 s"));
    assertThat(check.valid()).isFalse();
    assertThat(check.lines()).contains("  [1/1] baton-relay: did not start: not ready after 30 s");
  }
}
