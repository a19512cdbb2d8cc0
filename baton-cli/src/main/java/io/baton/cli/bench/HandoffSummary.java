package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The handoff figures of a run, per Baton system: the dispatcher's own CPU time per handoff under
 * load (one request per connection, the smallest size) and what one dispatcher core could therefore
 * sustain, and the handoff latency one connection at a time. The rate a run reaches is bound by the
 * servers (JVMs sharing CPU 1 with the client), not by the dispatcher, so capacity is the CPU time
 * per handoff inverted: 1 s of one core divided by it. Stateless.
 */
final class HandoffSummary {
  /** Target: the dispatcher process's CPU time per handoff. */
  static final double CPU_TARGET_US = 40;

  /** Target: handoffs per second one dispatcher core sustains. */
  static final double RATE_TARGET = 20_000;

  /** Targets: handoff latency at light load. */
  static final double P50_TARGET_US = 100;

  static final double P99_TARGET_US = 1000;

  private HandoffSummary() {}

  /** One or two lines per Baton system with handoff figures; none without them. */
  static List<String> lines(List<HandoffMeasurement> runs) {
    List<String> lines = new ArrayList<>();
    Set<String> systems = new LinkedHashSet<>();
    runs.forEach(r -> systems.add(r.system()));
    for (String system : systems) {
      List<HandoffMeasurement> close = smallest(runs, system, ConnectionMode.CLOSE);
      List<Double> cpu =
          close.stream()
              .map(HandoffMeasurement::dispatcherUsPerHandoff)
              .filter(d -> !Double.isNaN(d))
              .toList();
      if (!cpu.isEmpty()) {
        double us = Spread.of(cpu).median();
        lines.add(
            String.format(
                "Handoffs, %s: dispatcher CPU %.1f µs per handoff (one request per connection, %s,"
                    + " median of %d run%s) = one dispatcher core for %,.0f handoffs/s (1 s / CPU per handoff; targets"
                    + " <= %.0f µs, >= %,.0f/s: %s)",
                system,
                us,
                ResponseSize.parse(close.getFirst().size()).label(),
                cpu.size(),
                cpu.size() == 1 ? "" : "s",
                1e6 / us,
                CPU_TARGET_US,
                RATE_TARGET,
                us <= CPU_TARGET_US ? "met" : "missed"));
      }
      List<HandoffMeasurement> serial =
          smallest(runs, system, ConnectionMode.SERIAL).stream()
              .filter(r -> r.handoffs() > 0)
              .toList();
      if (!serial.isEmpty()) {
        double p50 =
            Spread.of(serial.stream().map(HandoffMeasurement::handoffP50Us).toList()).median();
        double p99 =
            Spread.of(serial.stream().map(HandoffMeasurement::handoffP99Us).toList()).median();
        long n = serial.stream().mapToLong(HandoffMeasurement::handoffs).sum();
        lines.add(
            String.format(
                "Handoff latency, %s, one connection at a time (routing decision to the server's"
                    + " ACCEPTED, %,d handoffs, histogram buckets interpolated): p50 %.0f µs, p99 %.0f µs (targets p50"
                    + " <= %.0f µs, p99 <= %.0f µs: %s)",
                system,
                n,
                p50,
                p99,
                P50_TARGET_US,
                P99_TARGET_US,
                p50 <= P50_TARGET_US && p99 <= P99_TARGET_US ? "met" : "missed"));
      }
    }
    return lines;
  }

  /** The runs of {@code system} in {@code mode} at the smallest size measured in that mode. */
  private static List<HandoffMeasurement> smallest(
      List<HandoffMeasurement> runs, String system, ConnectionMode mode) {
    List<HandoffMeasurement> of =
        runs.stream()
            .filter(r -> r.system().equals(system) && r.mode().equals(mode.label()))
            .toList();
    if (of.isEmpty()) return of;
    int least = of.stream().mapToInt(r -> ResponseSize.parse(r.size()).bytes()).min().orElseThrow();
    return of.stream().filter(r -> ResponseSize.parse(r.size()).bytes() == least).toList();
  }
}
