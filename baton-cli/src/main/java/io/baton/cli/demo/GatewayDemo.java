package io.baton.cli.demo;

import io.baton.cli.bench.GatewayBench;
import io.baton.cli.farm.GatewayPair;
import io.baton.lab.CommandResult;
import io.baton.lab.wan.WanLink;
import io.baton.lab.wan.WanTopology;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;

/**
 * {@code baton demo --gateway}: a LAN client downloads from a remote server across an emulated
 * long, lossy WAN (100 Mbit/s, 50 ms RTT, 1 % loss), first directly (the hosts' CUBIC, routed
 * through both gateways untouched), then, once the remote server has registered with the LAN's
 * gateway ({@code baton register}), through the gateway pair's trunk of 4 BBR connections; then a
 * second server port that was never registered is reached unchanged. Real processes: {@code baton
 * gateway --config} on both gateways, the sample app on the remote server, curl.
 *
 * <p>Confined to the calling thread.
 */
public final class GatewayDemo {
  private static final long FILE_BYTES = 32L << 20;
  private static final Duration CUT = Duration.ofSeconds(20);
  private final DemoChecks checks;

  public GatewayDemo(PrintWriter out) {
    this.checks = new DemoChecks(out);
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    WanLink link = WanLink.of(Duration.ofMillis(25), 100_000_000L).withLossProbability(0.01);
    checks.say(
        "Building the lab: client "
            + WanTopology.CLIENT_IP
            + " - gwa - emulated WAN ("
            + link
            + ") - gwb - remote "
            + WanTopology.REMOTE_IP
            + " (sample app on ports 80 and 8080, a 32 MiB file); baton gateway on gwa and gwb ...");
    try (GatewayPair pair = new GatewayPair("demo-gw", link, FILE_BYTES)) {
      for (String host : List.of("client", "remote")) {
        String via = host.equals("client") ? WanTopology.GWA_LAN_IP : WanTopology.GWB_LAN_IP;
        pair.host(host)
            .execOrThrow(
                "ip", "route", "replace", WanTopology.LAB_RANGE, "via", via, "congctl", "cubic");
      }
      checks.say("");
      checks.say("1. Direct: the hosts' own TCP (CUBIC) end to end; the gateways only route.");
      long opens = passiveOpens(pair);
      String direct = download(pair, GatewayPair.REGISTERED_PORT);
      checks.check(
          passiveOpens(pair) == opens,
          "gwa terminated no connection: the kernel routed it untouched");

      checks.say("");
      checks.say("2. The remote server registers with the LAN's gateway:");
      checks.say(
          "   baton register --gateway "
              + WanTopology.GWA_LAN_IP
              + ":7500 --key-file cluster.key --remote "
              + WanTopology.REMOTE_IP
              + " --port 80 --peer "
              + WanTopology.GWB_WAN_IP
              + ":7600 --connections 4"
              + " --congestion-control bbr");
      CommandResult r = pair.register("--connections", "4", "--congestion-control", "bbr");
      checks.check(
          r.exitCode() == 0,
          "registered" + (r.exitCode() == 0 ? "" : ": " + r.stdout() + r.stderr()));

      checks.say("");
      checks.say(
          "3. The same download through the gateway pair (first transfer: the trunk is dialed and ramps up).");
      opens = passiveOpens(pair);
      String first = download(pair, GatewayPair.REGISTERED_PORT);
      checks.check(
          passiveOpens(pair) > opens,
          "gwa terminated the client's connection (transparently: the client"
              + " still addressed "
              + WanTopology.REMOTE_IP
              + ")");
      checks.say("   And again, on the warm trunk:");
      String warm = download(pair, GatewayPair.REGISTERED_PORT);

      checks.say("");
      checks.say("4. Port 8080 of the same server was never registered: routed unchanged.");
      opens = passiveOpens(pair);
      String unregistered = download(pair, GatewayPair.UNREGISTERED_PORT);
      checks.check(passiveOpens(pair) == opens, "gwa terminated no connection to port 8080");

      checks.say("");
      checks.say("Summary (" + link + ")");
      checks.say("  direct:                 " + direct);
      checks.say("  gateway pair, first:    " + first);
      checks.say("  gateway pair, warm:     " + warm);
      checks.say("  unregistered port 8080: " + unregistered);
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) {
        checks.say("The lab stays up. In another shell, as root:");
        checks.say(
            "  ip netns exec "
                + pair.host("client").nsName()
                + " curl -o /dev/null http://"
                + WanTopology.REMOTE_IP
                + "/big.bin");
        checks.say(
            "  ip netns exec "
                + pair.host("remote").nsName()
                + " ./baton register --gateway "
                + WanTopology.GWA_LAN_IP
                + ":7500 --key-file "
                + pair.keyFile()
                + " --streams");
        checks.say("Ctrl-C ends it and tears the lab down.");
        Thread.currentThread().join();
      }
    }
    return !checks.failed();
  }

  private static long passiveOpens(GatewayPair pair) {
    return pair.host("gwa").snmpCounter("Tcp", "PassiveOpens");
  }

  /** curl from the client, cut at 20 s; checks the bytes (whole, or a clean prefix). */
  private String download(GatewayPair pair, int port) throws Exception {
    GatewayBench.Transfer t = GatewayBench.download(pair, port, CUT);
    if (t.whole()) {
      checks.check(t.clean(), "all " + t.bytes() + " bytes arrived, byte-exact");
    } else {
      checks.check(
          t.clean(),
          "cut after "
              + CUT.toSeconds()
              + " s with "
              + t.bytes()
              + " bytes, a clean prefix of the file");
    }
    checks.say("   " + t.text());
    return t.text();
  }
}
