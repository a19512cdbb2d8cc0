package io.baton.cli.bench;

import io.baton.cli.farm.GatewayPair;
import io.baton.lab.CommandResult;
import io.baton.lab.wan.WanLink;
import io.baton.lab.wan.WanTopology;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The WAN gateway's benchmark ({@code ./baton bench --gateway}): bulk downloads between unmodified
 * hosts over an emulated WAN (100 Mbit/s, 50 ms RTT; 0.1, 1 and 2 % loss), three ways in one run:
 *
 * <ul>
 *   <li><b>direct</b>: the hosts' own TCP end to end, CUBIC (Debian's default; set on the hosts'
 *       routes, since this VM's namespaces inherit BBR and may not name cubic as their default);
 *   <li><b>split</b>: the gateway pair with one default connection (CUBIC, no tuning), the shape of
 *       PEPsal-style single-connection splitting;
 *   <li><b>gateway</b>: the pair with its registered parameters (4 BBR connections); its first
 *       transfer dials and ramps the trunk up, a second finds it warm. Both are reported.
 * </ul>
 *
 * Goodput is HTTP body bytes over curl's total time (a transfer is cut after {@code cut}); the
 * gateways' CPU is both processes' user+system time per MB of the warm transfer.
 *
 * <p>Confined to the calling thread.
 */
public final class GatewayBench {
  /**
   * One transfer's figures.
   *
   * @param whole curl finished (exit 0); otherwise it was cut at the time limit
   * @param clean the bytes that arrived are the file, or a prefix of it when cut
   */
  public record Transfer(
      long bytes, double seconds, double firstByteMs, boolean whole, boolean clean) {
    public double megabitsPerSecond() {
      return bytes * 8 / seconds / 1e6;
    }

    public String text() {
      return String.format(
          "%.1f Mbit/s (%.1f MB in %.1f s, first byte %.0f ms%s)",
          megabitsPerSecond(), bytes / 1e6, seconds, firstByteMs, whole ? "" : ", cut");
    }
  }

  /** One loss rate's figures. */
  public record Row(
      double loss,
      Transfer direct,
      Transfer split,
      Transfer gatewayFirst,
      Transfer gatewayWarm,
      double gatewayCpuMsPerMb) {}

  private final PrintWriter out;
  private final long fileBytes;
  private final Duration cut;
  private final List<Double> losses;
  private final List<String> options;
  private final long linkBitsPerSecond = 100_000_000L;

  /**
   * @param fileBytes the download's size
   * @param cut the longest one transfer may take
   * @param options the gateway's registration, e.g. {@code --connections 4 --congestion-control
   *     bbr}
   */
  public GatewayBench(
      PrintWriter out, long fileBytes, Duration cut, List<Double> losses, List<String> options) {
    this.out = out;
    this.fileBytes = fileBytes;
    this.cut = cut;
    this.losses = List.copyOf(losses);
    this.options = List.copyOf(options);
  }

  public List<Row> run() throws Exception {
    WanLink base = WanLink.of(Duration.ofMillis(25), linkBitsPerSecond);
    List<Row> rows = new ArrayList<>();
    try (GatewayPair pair = new GatewayPair("gwbench", base, fileBytes)) {
      pair.host("client")
          .execOrThrow(
              "ip",
              "route",
              "replace",
              WanTopology.LAB_RANGE,
              "via",
              WanTopology.GWA_LAN_IP,
              "congctl",
              "cubic");
      pair.host("remote")
          .execOrThrow(
              "ip",
              "route",
              "replace",
              WanTopology.LAB_RANGE,
              "via",
              WanTopology.GWB_LAN_IP,
              "congctl",
              "cubic");
      for (double loss : losses) {
        pair.wan.line().setLink(base.withLossProbability(loss));
        Transfer direct = download(pair, GatewayPair.UNREGISTERED_PORT);
        register(pair, List.of("--connections", "1", "--congestion-control", "cubic"));
        Transfer split = download(pair, GatewayPair.REGISTERED_PORT);
        register(pair, options);
        Transfer first = download(pair, GatewayPair.REGISTERED_PORT);
        long before = cpuTicks(pair, "gwa") + cpuTicks(pair, "gwb");
        Transfer warm = download(pair, GatewayPair.REGISTERED_PORT);
        double cpuMsPerMb =
            (cpuTicks(pair, "gwa") + cpuTicks(pair, "gwb") - before)
                * (CpuTimes.MICROS_PER_TICK / 1000.0)
                / (warm.bytes() / 1e6);
        Row row = new Row(loss, direct, split, first, warm, cpuMsPerMb);
        rows.add(row);
        out.printf(
            "loss %.1f%%: direct %s | split %s | gateway first %s, warm %s | gateways' CPU %.1f ms/MB%n",
            loss * 100, direct.text(), split.text(), first.text(), warm.text(), cpuMsPerMb);
        out.flush();
      }
    }
    return rows;
  }

  private static void register(GatewayPair pair, List<String> options) {
    CommandResult r = pair.register(options.toArray(String[]::new));
    if (r.exitCode() != 0)
      throw new IllegalStateException("registration failed: " + r.stdout() + r.stderr());
  }

  private Transfer download(GatewayPair pair, int port) throws Exception {
    Transfer t = download(pair, port, cut);
    if (!t.clean())
      throw new IllegalStateException("a download on port " + port + " differs from the file");
    return t;
  }

  /**
   * curl on the pair's client: {@code big.bin} from the remote server's {@code port}, cut after
   * {@code cut}; its figures and whether its bytes are the file (or a prefix of it). A curl that
   * fails otherwise than by the time limit throws.
   */
  public static Transfer download(GatewayPair pair, int port, Duration cut) throws Exception {
    Path file = Files.createTempFile(pair.lab.dir(), "dl", ".bin");
    try {
      CommandResult r =
          pair.host("client")
              .exec(
                  List.of(
                      "curl",
                      "-sS",
                      "-m",
                      String.valueOf(cut.toSeconds()),
                      "-o",
                      file.toString(),
                      "-w",
                      "%{size_download} %{time_total} %{time_starttransfer}",
                      "http://" + WanTopology.REMOTE_IP + ":" + port + "/big.bin"),
                  cut.plusSeconds(15));
      String[] f = r.stdout().strip().split(" ");
      if (f.length != 3) throw new IllegalStateException("curl said nothing: " + r.stderr());
      boolean whole = r.exitCode() == 0;
      if (!whole && r.exitCode() != 28)
        throw new IllegalStateException("curl failed (" + r.exitCode() + "): " + r.stderr());
      long mismatch = Files.mismatch(file, pair.content.resolve("big.bin"));
      boolean clean = whole ? mismatch == -1 : mismatch == -1 || mismatch == Files.size(file);
      return new Transfer(
          Long.parseLong(f[0]),
          Double.parseDouble(f[1]),
          Double.parseDouble(f[2]) * 1000,
          whole,
          clean);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /** utime + stime of the node's process, in clock ticks (10 ms). */
  private static long cpuTicks(GatewayPair pair, String node) {
    return BenchProcess.ticksOf(pair.process(node).pid());
  }

  /** The report: a table per loss rate and the targets (issue 11), as Markdown. */
  public String report(List<Row> rows, String header) {
    StringBuilder md = new StringBuilder(header).append("\n\n");
    md.append(
        String.format(
            "Link: %d Mbit/s, 50 ms RTT; download of %.1f MB; transfers cut at %d s; gateway: %s.%n%n",
            linkBitsPerSecond / 1_000_000,
            fileBytes / 1e6,
            cut.toSeconds(),
            String.join(" ", options)));
    md.append(
        "| loss | direct (CUBIC) | split, 1 CUBIC connection | gateway, first transfer | gateway, warm trunk | warm / link | gateways' CPU ms/MB |\n");
    md.append("|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Row r : rows) {
      md.append(
          String.format(
              "| %.1f %% | %s | %s | %s | %s | %.1f %% | %.1f |%n",
              r.loss() * 100,
              r.direct().text(),
              r.split().text(),
              r.gatewayFirst().text(),
              r.gatewayWarm().text(),
              100 * r.gatewayWarm().megabitsPerSecond() * 1e6 / linkBitsPerSecond,
              r.gatewayCpuMsPerMb()));
    }
    md.append("\n").append(verdict(rows)).append("\n");
    return md.toString();
  }

  /** The targets: >= 90 % of the link at 1 % loss; moonshot >= 95 % at 2 %. */
  public String verdict(List<Row> rows) {
    List<String> parts = new ArrayList<>();
    for (Row r : rows) {
      double share = r.gatewayWarm().megabitsPerSecond() * 1e6 / linkBitsPerSecond;
      if (Math.abs(r.loss() - 0.01) < 1e-9) {
        parts.add(
            String.format(
                "at 1 %% loss %.1f %% of the link (target >= 90 %%: %s)",
                100 * share, share >= 0.90 ? "met" : "missed"));
      }
      if (Math.abs(r.loss() - 0.02) < 1e-9) {
        parts.add(
            String.format(
                "at 2 %% loss %.1f %% (moonshot >= 95 %%: %s)",
                100 * share, share >= 0.95 ? "met" : "missed"));
      }
    }
    return "Verdict: gateway pair, warm trunk, "
        + (parts.isEmpty() ? "no 1 % or 2 % loss measured" : String.join("; ", parts))
        + ".";
  }
}
