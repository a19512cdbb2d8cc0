package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The closing summary: Baton against the cheapest proxy (HAProxy or the nginx proxy, whichever
 * costs less balancer-node CPU at that size in this run) on CPU per request at each size (one
 * request per connection), the size from which Baton is the cheaper balancer, Baton's and the
 * better proxy's added p50 latency over direct, and the one-line verdict on the 1 MiB target,
 * naming the proxy. The Baton system compared is {@code baton-relay} (same nginx servers as the
 * proxies), else {@code baton-embedded}. Immutable.
 *
 * @param baton the Baton system compared, or null when none was measured
 * @param cpu per size: Baton's and the cheapest proxy's balancer-node CPU per request (µs), their
 *     ratio, and which proxy
 * @param cheaperFrom the smallest size from which Baton's figure is at most the cheapest proxy's at
 *     every larger size, or null
 * @param batonAddedP50Us Baton's p50 latency minus its direct baseline's, smallest size
 * @param haproxyAddedP50Us the better proxy's (lower added p50), likewise
 * @param latencyProxy which proxy that is
 * @param latencyBasis which runs the latency comparison uses
 * @param maxCpu0NoiseMsPerSecond the highest CPU 0 busy time per second seen just before a run
 *     (medians over repeats): other programs' load that the CPU 0 figures include
 * @param handoffLines the Baton dispatchers' handoff figures ({@link HandoffSummary}), printed
 *     before the verdict
 * @param paced as {@code cpu}, from the {@link ConnectionMode#PACED} runs (every system at one rate
 *     of new connections); empty when none were measured
 * @param verdict the last line printed
 */
record BenchSummary(
    String baton,
    List<SizeComparison> cpu,
    String cheaperFrom,
    Double batonAddedP50Us,
    Double haproxyAddedP50Us,
    String latencyProxy,
    String latencyBasis,
    double maxCpu0NoiseMsPerSecond,
    List<String> handoffLines,
    List<SizeComparison> paced,
    String verdict) {
  /**
   * Target: Baton's balancer-node CPU per request at 1 MiB at most this fraction of the cheapest
   * proxy's.
   */
  static final double RATIO_TARGET = 0.10;

  /** Target: Baton cheaper than HAProxy from this size on. */
  static final int CHEAPER_FROM_TARGET_BYTES = 16 << 10;

  /** Target: Baton's added p50 latency over direct. */
  static final double ADDED_P50_TARGET_US = 150;

  /** CPU 0 busy time per second before a run above which the summary warns of a shared CPU. */
  static final double NOISE_WARNING_MS_PER_SECOND = 50;

  /**
   * Baton's and HAProxy's balancer-node CPU per request at one size (CPU 0 busy time), and the same
   * from the balancer processes' own time (the lower bound, the shared-machine cross-check).
   */
  record SizeComparison(
      String size,
      int sizeBytes,
      String proxy,
      double batonUs,
      double haproxyUs,
      double ratio,
      double batonProcessUs,
      double haproxyProcessUs,
      double processRatio) {}

  private static final List<String> PROXIES =
      List.of(SystemKind.HAPROXY.label(), SystemKind.NGINX_PROXY.label());

  /**
   * The proxy with the least balancer-node CPU per request at this mode and size (clean runs only).
   */
  private static Optional<ConfigResult> cheapestProxy(
      List<ConfigResult> results, String mode, String size) {
    return results.stream()
        .filter(
            r ->
                PROXIES.contains(r.system())
                    && r.mode().equals(mode)
                    && r.size().equals(size)
                    && r.runs() > 0)
        .min(java.util.Comparator.comparingDouble(r -> r.balancerCpuUsPerRequest().median()));
  }

  static BenchSummary of(List<ConfigResult> results) {
    return of(results, List.of());
  }

  /** The summary of {@code results}, with the handoff figures of {@code handoffs}. */
  static BenchSummary of(List<ConfigResult> results, List<HandoffMeasurement> handoffs) {
    String baton =
        find(results, SystemKind.BATON_RELAY.label())
            ? SystemKind.BATON_RELAY.label()
            : find(results, SystemKind.BATON_EMBEDDED.label())
                ? SystemKind.BATON_EMBEDDED.label()
                : null;
    List<SizeComparison> cpu = comparisons(results, baton, ConnectionMode.CLOSE);
    String cheaperFrom = null;
    for (int i = cpu.size() - 1; i >= 0 && cpu.get(i).batonUs() <= cpu.get(i).haproxyUs(); i--) {
      cheaperFrom = cpu.get(i).size();
    }

    Double batonAdded = null;
    Double haproxyAdded = null;
    String latencyProxy = null;
    String basis = null;
    if (baton != null) {
      String direct = SystemKind.parse(baton).baseline().label();
      for (ConnectionMode mode : List.of(ConnectionMode.SERIAL, ConnectionMode.CLOSE)) {
        Optional<ConfigResult> b = smallest(results, baton, mode);
        if (b.isEmpty()) continue;
        Optional<ConfigResult> d = result(results, direct, mode.label(), b.get().size());
        if (d.isEmpty()) continue;
        basis =
            mode == ConnectionMode.SERIAL
                ? "one connection at a time, "
                    + ResponseSize.parse(b.get().size()).label()
                    + ", new connection per request"
                : "concurrent load, "
                    + ResponseSize.parse(b.get().size()).label()
                    + ", new connection per request";
        batonAdded = b.get().latencyP50Us().median() - d.get().latencyP50Us().median();
        Optional<ConfigResult> hd =
            result(results, SystemKind.DIRECT_NGINX.label(), mode.label(), b.get().size());
        for (String proxy : PROXIES) {
          Optional<ConfigResult> h = result(results, proxy, mode.label(), b.get().size());
          if (h.isPresent() && hd.isPresent() && h.get().runs() > 0) {
            double added = h.get().latencyP50Us().median() - hd.get().latencyP50Us().median();
            if (haproxyAdded == null || added < haproxyAdded) {
              haproxyAdded = added;
              latencyProxy = proxy;
            }
          }
        }
        break;
      }
    }
    double noise =
        results.stream()
            .mapToDouble(r -> r.cpu0NoiseMsPerSecond().median())
            .filter(d -> !Double.isNaN(d))
            .max()
            .orElse(0);
    return new BenchSummary(
        baton,
        List.copyOf(cpu),
        cheaperFrom,
        batonAdded,
        haproxyAdded,
        latencyProxy,
        basis,
        noise,
        HandoffSummary.lines(handoffs),
        comparisons(results, baton, ConnectionMode.PACED),
        verdict(cpu));
  }

  /** Per size, {@code baton} against the cheapest proxy in {@code mode} (clean runs only). */
  private static List<SizeComparison> comparisons(
      List<ConfigResult> results, String baton, ConnectionMode mode) {
    List<SizeComparison> cpu = new ArrayList<>();
    if (baton == null) return cpu;
    for (ConfigResult b : results) {
      if (!b.system().equals(baton) || !b.mode().equals(mode.label()) || b.runs() == 0) continue;
      cheapestProxy(results, b.mode(), b.size())
          .ifPresent(
              h -> {
                double bu = b.balancerCpuUsPerRequest().median();
                double hu = h.balancerCpuUsPerRequest().median();
                double bp = b.balancerProcessUsPerRequest().median();
                double hp = h.balancerProcessUsPerRequest().median();
                cpu.add(
                    new SizeComparison(
                        ResponseSize.parse(b.size()).label(),
                        b.sizeBytes(),
                        h.system(),
                        bu,
                        hu,
                        bu / hu,
                        bp,
                        hp,
                        bp / hp));
              });
    }
    return List.copyOf(cpu);
  }

  /** The summary as lines of text, verdict last. */
  List<String> lines() {
    List<String> lines = new ArrayList<>();
    if (baton == null) {
      lines.add("No Baton system was measured: nothing to compare.");
    } else if (cpu.isEmpty()) {
      lines.add(
          baton
              + " was measured but no proxy was (with one request per connection): no CPU comparison.");
    } else {
      lines.add(
          "Balancer-node CPU per request, "
              + baton
              + " vs the cheapest proxy at each size, one request per"
              + " connection (CPU 0 busy time; in brackets: the balancer processes' own time):");
      for (SizeComparison c : cpu) lines.add(comparisonLine(c));
      boolean met =
          cheaperFrom != null
              && cpu.stream()
                      .filter(c -> c.size().equals(cheaperFrom))
                      .findFirst()
                      .orElseThrow()
                      .sizeBytes()
                  <= CHEAPER_FROM_TARGET_BYTES;
      lines.add(
          "Baton is the cheaper balancer from: "
              + (cheaperFrom == null ? "none of the sizes measured" : cheaperFrom)
              + " (target <= 16 KiB: "
              + (met ? "met" : "missed")
              + ")");
    }
    if (!paced.isEmpty()) {
      lines.add(
          "The same at one load for every system (paced: new connections at one fixed rate, one"
              + " request each; hey):");
      for (SizeComparison c : paced) lines.add(comparisonLine(c));
    }
    if (batonAddedP50Us != null) {
      String h =
          haproxyAddedP50Us == null
              ? "no proxy measured"
              : String.format("%s %+.0f µs", latencyProxy, haproxyAddedP50Us);
      boolean met =
          haproxyAddedP50Us == null
              ? batonAddedP50Us <= ADDED_P50_TARGET_US
              : batonAddedP50Us <= haproxyAddedP50Us;
      lines.add(
          String.format(
              "Added p50 latency over direct (%s): %s %+.0f µs, %s (target: no more than the better"
                  + " proxy's: %s)",
              latencyBasis, baton, batonAddedP50Us, h, met ? "met" : "missed"));
    }
    if (maxCpu0NoiseMsPerSecond >= NOISE_WARNING_MS_PER_SECOND) {
      lines.add(
          String.format(
              "Warning: other programs kept CPU 0 up to %.0f ms/s busy before runs (median over repeats);"
                  + " the CPU 0 figures include that load, the bracketed lower bounds do not. Rerun on a quiet machine.",
              maxCpu0NoiseMsPerSecond));
    }
    lines.addAll(handoffLines);
    lines.add(verdict);
    return lines;
  }

  private static String comparisonLine(SizeComparison c) {
    return String.format(
        "  %-8s %8.1f µs vs %8.1f µs (%s)  ratio %.2f   [%.1f vs %.1f µs, ratio %.2f]",
        c.size(),
        c.batonUs(),
        c.haproxyUs(),
        c.proxy(),
        c.ratio(),
        c.batonProcessUs(),
        c.haproxyProcessUs(),
        c.processRatio());
  }

  private static String verdict(List<SizeComparison> cpu) {
    Optional<SizeComparison> mib = cpu.stream().filter(c -> c.sizeBytes() == 1 << 20).findFirst();
    if (mib.isPresent()) {
      return String.format(
          "baton:%s balancer-node CPU per request at 1 MiB = %.2f (target <= %.2f; %s is the cheapest"
              + " proxy at 1 MiB in this run)",
          mib.get().proxy(), mib.get().ratio(), RATIO_TARGET, mib.get().proxy());
    }
    if (!cpu.isEmpty()) {
      SizeComparison largest = cpu.getLast();
      return String.format(
          "baton:%s balancer-node CPU per request at %s = %.2f (target <= %.2f at 1 MiB; 1 MiB not measured)",
          largest.proxy(), largest.size(), largest.ratio(), RATIO_TARGET);
    }
    return String.format(
        "baton:proxy balancer-node CPU per request at 1 MiB = n/a (target <= %.2f; needs haproxy or"
            + " nginx-proxy and a Baton system measured with one request per connection)",
        RATIO_TARGET);
  }

  private static boolean find(List<ConfigResult> results, String system) {
    return results.stream().anyMatch(r -> r.system().equals(system));
  }

  private static Optional<ConfigResult> result(
      List<ConfigResult> results, String system, String mode, String size) {
    return results.stream()
        .filter(r -> r.system().equals(system) && r.mode().equals(mode) && r.size().equals(size))
        .findFirst();
  }

  private static Optional<ConfigResult> smallest(
      List<ConfigResult> results, String system, ConnectionMode mode) {
    return results.stream()
        .filter(r -> r.system().equals(system) && r.mode().equals(mode.label()))
        .min(java.util.Comparator.comparingInt(ConfigResult::sizeBytes));
  }
}
