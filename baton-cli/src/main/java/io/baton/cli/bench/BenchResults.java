package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one run measured: the wrk runs, the pinning checks and what failed, and their
 * summary per configuration (median and range over the repeats).
 *
 * <p>Confined to the runner's thread.
 */
final class BenchResults {
  private final List<Measurement> measurements = new ArrayList<>();
  private final List<IdleCheck> idleChecks = new ArrayList<>();
  private final List<String> failures = new ArrayList<>();
  private double labIdleCpu0MsPerSecond = Double.NaN;

  void add(Measurement m) {
    measurements.add(m);
  }

  void add(IdleCheck c) {
    idleChecks.add(c);
  }

  void fail(String what) {
    failures.add(what);
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

  /** One result per system, mode and size that has measurements, in the plan's order. */
  List<ConfigResult> aggregate(BenchPlan plan) {
    Map<String, List<Measurement>> groups = new LinkedHashMap<>();
    for (Measurement m : measurements) {
      groups.computeIfAbsent(key(m.system(), m.mode(), m.size()), k -> new ArrayList<>()).add(m);
    }
    List<ConnectionMode> modes = new ArrayList<>(plan.modes());
    if (!plan.serialDuration().isZero()) modes.add(ConnectionMode.SERIAL);
    List<ConfigResult> results = new ArrayList<>();
    for (SystemKind system : plan.systems()) {
      for (ConnectionMode mode : modes) {
        for (ResponseSize size : plan.sizes()) {
          List<Measurement> runs = groups.get(key(system.label(), mode.label(), size.token()));
          if (runs == null) continue;
          Double overDirect = null;
          if (system.baseline() != null) {
            List<Measurement> base = groups.get(key(system.baseline().label(), mode.label(), size.token()));
            if (base != null) {
              overDirect = spread(runs, Measurement::machineCpuUsPerRequest).median()
                  - spread(base, Measurement::machineCpuUsPerRequest).median();
            }
          }
          results.add(new ConfigResult(system.label(), mode.label(), size.token(), size.bytes(), runs.size(),
              runs.stream().mapToLong(Measurement::requests).sum(),
              runs.stream().mapToLong(Measurement::errors).sum(),
              spread(runs, Measurement::requestsPerSecond),
              spread(runs, Measurement::latencyP50Us),
              spread(runs, Measurement::latencyP99Us),
              spread(runs, Measurement::balancerCpuUsPerRequest),
              spread(runs, Measurement::balancerProcessUsPerRequest),
              spread(runs, Measurement::cpu0NoiseMsPerSecond),
              spread(runs, Measurement::machineCpuUsPerRequest),
              overDirect,
              spread(runs, Measurement::frontBytesPerRequest)));
        }
      }
    }
    return results;
  }

  private static Spread spread(List<Measurement> runs, java.util.function.ToDoubleFunction<Measurement> f) {
    return Spread.of(runs.stream().map(m -> f.applyAsDouble(m)).toList());
  }

  private static String key(String system, String mode, String size) {
    return system + "|" + mode + "|" + size;
  }
}
