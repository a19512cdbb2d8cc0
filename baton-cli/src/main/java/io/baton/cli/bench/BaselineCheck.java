package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The sanity check of a run: a comparison with a proxy means something only if the proxy was
 * measured at its best. A proxy's configuration is invalid when any of its runs had socket errors
 * or non-2xx answers or failed, when its repeats differ by more than {@value #MAX_REPEAT_SPREAD}x
 * in req/s, or when it neither kept the balancer's CPU busy (at least {@value #SATURATED_FRACTION}
 * of a CPU) nor matched direct nginx's req/s (at least {@value #MATCHES_DIRECT} of it) nor was held
 * back by the lab's farm side (CPU 1, where wrk, the servers and their packet work run, at least
 * {@value #FARM_SATURATED_FRACTION} busy): then something other than the proxy and the lab's known
 * bound limited it. (A proxy carries every byte through one more hop whose receive work lands on
 * CPU 1, so with keep-alive CPU 1 saturates below direct nginx's rate; that proxy's CPU per request
 * is still its own cost at the rate the farm allows.) Any system's run with errors or that failed
 * is a problem too, and so is a paced run (any system) below {@value #PACED_FRACTION} of the paced
 * rate. An invalid run says so in the report and exits non-zero. Immutable.
 */
record BaselineCheck(List<String> problems) {
  static final double MAX_REPEAT_SPREAD = 2.0;
  static final double SATURATED_FRACTION = 0.85;
  static final double MATCHES_DIRECT = 0.85;
  static final double FARM_SATURATED_FRACTION = 0.95;
  static final double PACED_FRACTION = 0.95;

  BaselineCheck {
    problems = List.copyOf(problems);
  }

  boolean valid() {
    return problems.isEmpty();
  }

  static BaselineCheck of(List<ConfigResult> table) {
    return of(table, List.of());
  }

  /**
   * As {@link #of(List)}, also invalid when a system failed outside a measured run ({@code
   * failures}: did not start, died): its runs are missing from the table, which must not read as
   * clean.
   */
  static BaselineCheck of(List<ConfigResult> table, List<String> failures) {
    return of(table, failures, 0);
  }

  /**
   * As {@link #of(List, List)}, also invalid when a system's {@link ConnectionMode#PACED} runs fell
   * short of {@code pacedRate} (median below {@value #PACED_FRACTION} of it): the paced comparison
   * assumes every system carried the same load. (hey's workers each send one more request at the
   * first tick after the deadline and hey's total time includes it, so a run's rate is the nominal
   * one, not the ticks before the deadline.)
   */
  static BaselineCheck of(List<ConfigResult> table, List<String> failures, double pacedRate) {
    List<String> problems = new ArrayList<>(failures);
    for (ConfigResult r : table) {
      String what = r.system() + " " + r.mode() + " " + ResponseSize.parse(r.size()).label();
      if (r.excluded() > 0 || r.failed() > 0 || r.runs() == 0) {
        problems.add(what + ": only " + r.runCount() + " runs clean");
        continue;
      }
      if (r.mode().equals(ConnectionMode.PACED.label())) {
        double rate = r.requestsPerSecond().median();
        if (rate < PACED_FRACTION * pacedRate) {
          problems.add(
              String.format(
                  "%s: did not sustain the paced rate (%.0f of %.0f req/s): the equal-load"
                      + " comparison does not hold",
                  what, rate, pacedRate));
        }
        continue;
      }
      if (!isProxy(r.system()) || r.mode().equals(ConnectionMode.SERIAL.label())) continue;
      Spread rps = r.requestsPerSecond();
      if (rps.min() > 0 && rps.max() / rps.min() > MAX_REPEAT_SPREAD) {
        problems.add(
            String.format(
                "%s: repeats differ more than %.0fx in req/s (%.0f–%.0f)",
                what, MAX_REPEAT_SPREAD, rps.min(), rps.max()));
        continue;
      }
      double busyFraction = r.balancerCpuUsPerRequest().median() * rps.median() / 1e6;
      Optional<ConfigResult> direct =
          table.stream()
              .filter(
                  d ->
                      d.system().equals(SystemKind.DIRECT_NGINX.label())
                          && d.mode().equals(r.mode())
                          && d.size().equals(r.size())
                          && d.runs() > 0)
              .findFirst();
      boolean saturated = busyFraction >= SATURATED_FRACTION;
      boolean matchesDirect =
          direct.isPresent()
              && rps.median() >= MATCHES_DIRECT * direct.get().requestsPerSecond().median();
      // CPU 1 (the farm side) busy: all CPUs' busy time minus CPU 0's, per second.
      double farmFraction =
          (r.machineCpuUsPerRequest().median() - r.balancerCpuUsPerRequest().median())
              * rps.median()
              / 1e6;
      boolean farmBound = farmFraction >= FARM_SATURATED_FRACTION;
      if (!saturated && !matchesDirect && !farmBound) {
        problems.add(
            String.format(
                "%s: neither saturated the balancer CPU (%.0f%% busy) nor matched direct nginx"
                    + " (%.0f vs %s req/s) nor was held back by the farm side (CPU 1 %.0f%% busy): something other than the"
                    + " proxy limited it",
                what,
                100 * busyFraction,
                rps.median(),
                direct
                    .map(d -> String.format("%.0f", d.requestsPerSecond().median()))
                    .orElse("unmeasured"),
                100 * farmFraction));
      }
    }
    return new BaselineCheck(problems);
  }

  static boolean isProxy(String system) {
    return system.equals(SystemKind.HAPROXY.label())
        || system.equals(SystemKind.NGINX_PROXY.label());
  }

  /** Lines for the report and console: "valid" or each problem. */
  List<String> lines() {
    if (valid()) {
      return List.of(
          "Sanity check: valid (every run clean; every proxy saturated its CPU, matched direct nginx or"
              + " was held back by the farm side's CPU).");
    }
    List<String> lines = new ArrayList<>();
    lines.add("Sanity check: INVALID run — the comparisons below do not hold:");
    problems.forEach(p -> lines.add("  " + p));
    return lines;
  }
}
