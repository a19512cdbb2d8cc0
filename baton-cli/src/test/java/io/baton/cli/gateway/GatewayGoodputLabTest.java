package io.baton.cli.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.cli.farm.GatewayPair;
import io.baton.lab.CommandResult;
import io.baton.lab.wan.WanLink;
import io.baton.lab.wan.WanTopology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Goodput over an emulated 100 Mbit/s, 50 ms RTT WAN at 0.1, 1 and 2 % loss: direct (the hosts'
 * CUBIC end to end), split TCP with one default connection (PEPsal's shape) and the gateway pair
 * with 4 BBR connections paced at the link rate. Prints the figures and the gateways' CPU per MB;
 * asserts only that every transfer that completed was whole. Runs with
 * {@code -Dbaton.test.goodput=true} (about 2 minutes), not in {@code ./test}.
 */
@Tag("lab")
class GatewayGoodputLabTest {
  private static final long SIZE = 48L << 20;
  /** The gateway pair's registration; {@code -Dbaton.test.goodput.options="--connections 8 ..."} to try others. */
  private static final String[] GATEWAY_OPTIONS =
      System.getProperty("baton.test.goodput.options", "--connections 4 --congestion-control bbr").split(" ");

  @Test
  void goodputDirectSplitAndGateway() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("baton.test.goodput"), "set -Dbaton.test.goodput=true");
    WanLink base = WanLink.of(Duration.ofMillis(25), 100_000_000L);
    try (GatewayPair pair = new GatewayPair("goodput", base, SIZE)) {
      // The end hosts run Debian's default, CUBIC (this VM's own default is BBR, which new
      // namespaces inherit, and outside the initial namespace only the host's allowed algorithms
      // may be the default: EPERM for cubic), set on their routes: "direct" is then what
      // unmodified hosts get.
      pair.host("client").execOrThrow("ip", "route", "replace", WanTopology.LAB_RANGE, "via", WanTopology.GWA_LAN_IP,
          "congctl", "cubic");
      pair.host("remote").execOrThrow("ip", "route", "replace", WanTopology.LAB_RANGE, "via", WanTopology.GWB_LAN_IP,
          "congctl", "cubic");
      for (double loss : new double[] {0.001, 0.01, 0.02}) {
        pair.wan.line().setLink(base.withLossProbability(loss));
        String direct = run(pair, GatewayPair.UNREGISTERED_PORT);
        assertThat(pair.register("--connections", "1", "--congestion-control", "cubic").exitCode()).isZero();
        String split = run(pair, GatewayPair.REGISTERED_PORT);
        assertThat(pair.register(GATEWAY_OPTIONS).exitCode()).isZero();
        // The first transfer dials the trunk and ramps it up; the second finds it warm (a trunk
        // stays up while its registration lives, and slow start after idle is off).
        String cold = run(pair, GatewayPair.REGISTERED_PORT);
        long cpuBefore = cpuTicks(pair, "gwa") + cpuTicks(pair, "gwb");
        String gateway = run(pair, GatewayPair.REGISTERED_PORT);
        long cpuTicks = cpuTicks(pair, "gwa") + cpuTicks(pair, "gwb") - cpuBefore;
        System.out.printf("loss %.1f%%: direct %s | split, 1 cubic %s | gateway (%s) first %s, warm %s | gateways' CPU %.1f ms per MB%n",
            loss * 100, direct, split, String.join(" ", GATEWAY_OPTIONS), cold, gateway, cpuTicks * 10.0 / (SIZE / 1e6));
      }
    }
  }

  /** A download of up to 48 MiB for at most 20 s: "X Mbit/s (N MB in T s)". */
  private static String run(GatewayPair pair, int port) throws Exception {
    Path out = Files.createTempFile(pair.lab.dir(), "g", ".bin");
    CommandResult r = pair.host("client").exec(List.of("curl", "-sS", "-m", "20", "-o", out.toString(), "-w",
        "%{size_download} %{time_total} %{time_starttransfer}", "http://" + WanTopology.REMOTE_IP + ":" + port + "/big.bin"),
        Duration.ofSeconds(30));
    String[] f = r.stdout().strip().split(" ");
    long bytes = Long.parseLong(f[0]);
    double seconds = Double.parseDouble(f[1]);
    if (r.exitCode() == 0) assertThat(bytes).isEqualTo(SIZE);
    Files.delete(out);
    return String.format("%.1f Mbit/s (%.1f MB in %.1f s, first byte %.0f ms%s)", bytes * 8 / seconds / 1e6, bytes / 1e6,
        seconds, Double.parseDouble(f[2]) * 1000, r.exitCode() == 0 ? "" : ", cut at 20 s");
  }

  /** utime + stime of the node's process, in clock ticks (10 ms). */
  private static long cpuTicks(GatewayPair pair, String node) throws Exception {
    String[] stat = Files.readString(Path.of("/proc/" + pair.process(node).pid() + "/stat")).split("\\) ")[1].split(" ");
    return Long.parseLong(stat[11]) + Long.parseLong(stat[12]);
  }
}
