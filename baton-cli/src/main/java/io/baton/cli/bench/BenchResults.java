package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one run measured: the wrk runs, the pinning checks and what failed, and their summary
 * per configuration (median and range over the repeats).
 *
 * <p>Confined to the runner's thread.
 */
final class BenchResults {
  private final List<Measurement> measurements = new ArrayList<>();
  private final List<HandoffMeasurement> handoffs = new ArrayList<>();
  private final List<IdleCheck> idleChecks = new ArrayList<>();
  private final List<String> failures = new ArrayList<>();
  private final List<FailedRun> failedRuns = new ArrayList<>();

  /** A run that produced no measurement. */
  record FailedRun(String system, String mode, String size, int repeat, String reason) {}

  private double labIdleCpu0MsPerSecond = Double.NaN;

  void add(HandoffMeasurement h) {
    handoffs.add(h);
  }

  /** The Baton dispatchers' handoff figures, one per measured run of a Baton system. */
  List<HandoffMeasurement> handoffs() {
    return List.copyOf(handoffs);
  }

  void add(Measurement m) {
    measurements.add(m);
  }

  void add(IdleCheck c) {
    idleChecks.add(c);
  }

  void fail(String what) {
    failures.add(what);
  }

  /** One measurement failed (wrk timed out, the system died): counted against its configuration. */
  void failRun(
      SystemKind system, ConnectionMode mode, ResponseSize size, int repeat, String reason) {
    failedRuns.add(new FailedRun(system.label(), mode.label(), size.token(), repeat, reason));
    failures.add(
        "["
            + repeat
            + "] "
            + system.label()
            + " "
            + mode.label()
            + " "
            + size.label()
            + ": "
            + reason);
  }

  List<FailedRun> failedRuns() {
    return List.copyOf(failedRuns);
  }

  /** Measurements left out of the medians: wrk saw socket errors or non-2xx answers in them. */
  List<Measurement> excluded() {
    return measurements.stream().filter(m -> m.errors() > 0).toList();
  }

  void labIdle(double cpu0MsPerSecond) {
    labIdleCpu0MsPerSecond = cpu0MsPerSecond;
  }

  List<Measurement> measurements() {
    return List.copyOf(measurements);
  }

  List<IdleCheck> idleChecks() {
    return List.copyOf(idleChecks);
  }

  List<String> failures() {
    return List.copyOf(failures);
  }

  /** CPU 0's busy time per second with the lab built and nothing started, in ms. */
  double labIdleCpu0MsPerSecond() {
    return labIdleCpu0MsPerSecond;
  }

  /**
   * One result per system, mode and size that has measurements or failed runs, in the plan's order.
   * Medians rest on the clean runs only; runs with errors are counted as excluded and runs without
   * a measurement as failed, so a broken run never hides in a median.
   */
  List<ConfigResult> aggregate(BenchPlan plan) {
    Map<String, List<Measurement>> groups = new LinkedHashMap<>();
    Map<String, Integer> excludedCount = new LinkedHashMap<>();
    for (Measurement m : measurements) {
      String k = key(m.system(), m.mode(), m.size());
      groups.computeIfAbsent(k, x -> new ArrayList<>());
      if (m.errors() > 0) {
        excludedCount.merge(k, 1, Integer::sum);
      } else {
        groups.get(k).add(m);
      }
    }
    Map<String, Integer> failedCount = new LinkedHashMap<>();
    for (FailedRun f : failedRuns) {
      String k = key(f.system(), f.mode(), f.size());
      groups.computeIfAbsent(k, x -> new ArrayList<>());
      failedCount.merge(k, 1, Integer::sum);
    }
    List<ConnectionMode> modes = new ArrayList<>(plan.modes());
    if (!plan.serialDuration().isZero()) modes.add(ConnectionMode.SERIAL);
    List<ConfigResult> results = new ArrayList<>();
    for (SystemKind system : plan.systems()) {
      for (ConnectionMode mode : modes) {
        for (ResponseSize size : plan.sizes()) {
          String k = key(system.label(), mode.label(), size.token());
          List<Measurement> runs = groups.get(k);
          if (runs == null) continue;
          Double overDirect = null;
          if (system.baseline() != null) {
            List<Measurement> base =
                groups.get(key(system.baseline().label(), mode.label(), size.token()));
            if (base != null && !base.isEmpty() && !runs.isEmpty()) {
              overDirect =
                  spread(runs, Measurement::machineCpuUsPerRequest).median()
                      - spread(base, Measurement::machineCpuUsPerRequest).median();
            }
          }
          List<Measurement> all =
              measurements.stream()
                  .filter(m -> key(m.system(), m.mode(), m.size()).equals(k))
                  .toList();
          results.add(
              new ConfigResult(
                  system.label(),
                  mode.label(),
                  size.token(),
                  size.bytes(),
                  runs.size(),
                  plan.repeats(),
                  excludedCount.getOrDefault(k, 0),
                  failedCount.getOrDefault(k, 0),
                  all.stream().mapToLong(Measurement::requests).sum(),
                  all.stream().mapToLong(Measurement::errors).sum(),
                  spread(runs, Measurement::requestsPerSecond),
                  spread(runs, Measurement::latencyP50Us),
                  spread(runs, Measurement::latencyP99Us),
                  spread(runs, Measurement::balancerCpuUsPerRequest),
                  spread(runs, Measurement::balancerProcessUsPerRequest),
                  spread(runs, Measurement::cpu0NoiseMsPerSecond),
                  spread(runs, Measurement::machineCpuUsPerRequest),
                  overDirect,
                  spread(runs, Measurement::frontBytesPerRequest),
                  spread(runs, Measurement::jitMsPerSecond)));
        }
      }
    }
    return results;
  }

  private static Spread spread(
      List<Measurement> runs, java.util.function.ToDoubleFunction<Measurement> f) {
    return Spread.of(runs.stream().map(m -> f.applyAsDouble(m)).toList());
  }

  private static String key(String system, String mode, String size) {
    return system + "|" + mode + "|" + size;
  }
}
