package io.baton.cli.demo;

import io.baton.cli.farm.Curl;
import io.baton.cli.farm.DnsProbe;
import io.baton.cli.farm.Farm;
import io.baton.cli.farm.RoutedFarm;
import io.baton.lab.CommandResult;
import io.baton.lab.InterfaceStats;
import io.baton.lab.RstCounter;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * {@code baton demo --routed}: a dispatcher and two servers in different subnets with a router
 * between them (real {@code baton dispatcher|server --config} processes): TCP connections handed
 * off and their later packets forwarded encapsulated across the router, a UDP DNS VIP whose flows
 * spread over two dnsmasq servers and stick to them, the agent's UDP echo, and an IPv6 VIP whose
 * packets cross the IPv4 fabric wrapped.
 *
 * <p>Confined to the calling thread.
 */
public final class RoutedDemo {
  private final int loadSeconds;
  private final DemoChecks checks;

  public RoutedDemo(PrintWriter out, int loadSeconds) {
    this.checks = new DemoChecks(out);
    this.loadSeconds = loadSeconds;
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    checks.say(
        "Building the farm: client and dispatcher d1 on 198.18.0.0/24, a router, servers s1 and s2 on"
            + " 198.18.3.0/24 (d1's fabric is 198.18.1.0/24). VIP "
            + RoutedFarm.VIP
            + ": 80 (http), 53/udp (dnsmasq on each server), 7/udp (the agent's echo);"
            + " forwarding: encap ...");
    try (RoutedFarm farm = new RoutedFarm("demo-routed", "")) {
      farm.startAll();
      RstCounter rsts = RstCounter.install(farm.client);
      InterfaceStats uplink0 = farm.d1.interfaceStats("uplink");

      checks.say("");
      checks.say("TCP through handoffs, every later client packet wrapped in UDP to the server:");
      Path out = farm.lab.dir().resolve("demo-down.bin");
      CommandResult down =
          farm.curl(Duration.ofSeconds(120), "-o", out.toString(), RoutedFarm.url("/big.bin"));
      checks.check(
          down.exitCode() == 0 && Farm.sha256(out).equals(Farm.sha256(farm.bigFile)),
          "100 MiB GET arrived with the right SHA-256"
              + (down.exitCode() == 0 ? "" : ": " + down.stderr()));
      Path up = Farm.truncatedCopy(farm.bigFile, farm.lab.dir().resolve("demo-up.bin"), 20L << 20);
      Path echoed = farm.lab.dir().resolve("demo-echoed.bin");
      CommandResult post =
          farm.curl(Duration.ofSeconds(120), Curl.post(up, echoed, RoutedFarm.url("/echo")));
      checks.check(
          post.exitCode() == 0 && Farm.sha256(echoed).equals(Farm.sha256(up)),
          "20 MiB POST echoed byte-exact (the body crossed the router encapsulated)");
      CommandResult wrk =
          farm.client.exec(
              List.of(
                  "wrk",
                  "-t1",
                  "-c8",
                  "-d" + loadSeconds + "s",
                  "-H",
                  "Connection: close",
                  RoutedFarm.url("/whoami.txt")),
              Duration.ofSeconds(loadSeconds + 30L));
      String rate =
          wrk.stdout()
              .lines()
              .filter(l -> l.startsWith("Requests/sec"))
              .findFirst()
              .orElse("Requests/sec: ?")
              .strip();
      checks.check(
          wrk.exitCode() == 0
              && !wrk.stdout().contains("Socket errors")
              && !wrk.stdout().contains("Non-2xx"),
          "wrk " + loadSeconds + " s of new connections, no error (" + rate + ")");
      InterfaceStats uplink1 = farm.d1.interfaceStats("uplink");
      double encapsulated =
          metric(farm, "d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"encap\"}");
      double decapsulated =
          metric(farm, "s1", "baton_server_encap_packets_total{result=\"decapsulated\"}")
              + metric(farm, "s2", "baton_server_encap_packets_total{result=\"decapsulated\"}");
      double uplinkMiB = (uplink1.txBytes() - uplink0.txBytes()) / 1048576.0;
      checks.say(
          String.format(
              "   d1 wrapped %.0f packets, s1 and s2 unwrapped %.0f; d1 sent %.1f MiB on its fabric uplink",
              encapsulated, decapsulated, uplinkMiB));
      checks.check(
          uplinkMiB < 40,
          "the 100 MiB download and the answers did not cross d1: its uplink carried the 20 MiB"
              + " upload (wrapped) and handoffs only");
      checks.check(
          encapsulated > 0 && decapsulated >= encapsulated * 0.99,
          "every wrapped packet was unwrapped by a server");

      checks.say("");
      checks.say("UDP: dig @" + RoutedFarm.VIP + " who.farm.test, each query a new flow:");
      Map<String, Integer> answers = new TreeMap<>();
      boolean allFromVip = true;
      for (int i = 0; i < 10; i++) {
        CommandResult dig = farm.dig(RoutedFarm.VIP);
        allFromVip &= dig.exitCode() == 0;
        answers.merge(dig.stdout().strip(), 1, Integer::sum);
      }
      checks.say("   answers: " + answers + " (198.18.0.11 is s1's answer, .12 s2's)");
      checks.check(
          allFromVip && answers.keySet().equals(java.util.Set.of("198.18.0.11", "198.18.0.12")),
          "both DNS servers answered, every answer from the VIP");
      InetSocketAddress dns = new InetSocketAddress(RoutedFarm.VIP, 53);
      InetSocketAddress flow = new InetSocketAddress(RoutedFarm.CLIENT_IP, 40053);
      java.util.Set<String> sameFlow = new java.util.HashSet<>();
      for (int i = 0; i < 5; i++) {
        Optional<String> a = farm.client.call(() -> DnsProbe.ask(flow, dns, "who.farm.test", 2000));
        sameFlow.add(a.orElse("no answer"));
      }
      checks.check(
          sameFlow.size() == 1 && !sameFlow.contains("no answer"),
          "5 queries of one flow (port 40053) all answered by one server " + sameFlow);
      CommandResult flows =
          farm.cli("d1", "ctl", "--config", farm.config("d1").toString(), "connections");
      flows
          .stdout()
          .lines()
          .filter(l -> l.contains(":53") || l.startsWith("UDP"))
          .limit(4)
          .forEach(l -> checks.say("   " + l));

      checks.say("");
      checks.say(
          "IPv6: VIP "
              + RoutedFarm.VIP6
              + " on the front only; its packets cross the IPv4 fabric wrapped (header version 2):");
      Path out6 = farm.lab.dir().resolve("demo-down6.bin");
      CommandResult down6 =
          farm.curl(
              Duration.ofSeconds(120), "-g", "-o", out6.toString(), RoutedFarm.url6("/big.bin"));
      checks.check(
          down6.exitCode() == 0 && Farm.sha256(out6).equals(Farm.sha256(farm.bigFile)),
          "100 MiB GET over IPv6 arrived with the right SHA-256"
              + (down6.exitCode() == 0 ? "" : ": " + down6.stderr()));
      java.util.Set<String> answers6 = new java.util.TreeSet<>();
      for (int i = 0; i < 10; i++) {
        CommandResult dig = farm.dig(RoutedFarm.VIP6);
        answers6.add(dig.exitCode() == 0 ? dig.stdout().strip() : "no answer");
      }
      checks.check(
          answers6.equals(java.util.Set.of("198.18.0.11", "198.18.0.12")),
          "dig @" + RoutedFarm.VIP6 + ": both DNS servers answered over IPv6 " + answers6);

      checks.say("");
      checks.check(
          rsts.received() == 0,
          "the client received " + rsts.received() + " RST segments over the whole demo");
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) {
        checks.say("The farm stays up. In another shell, as root:");
        checks.say(
            "  ip netns exec "
                + farm.client.nsName()
                + " dig @"
                + RoutedFarm.VIP
                + " who.farm.test; ip netns exec "
                + farm.client.nsName()
                + " curl -o /dev/null "
                + RoutedFarm.url("/big.bin"));
        checks.say("Ctrl-C ends it and tears the farm down.");
        Thread.currentThread().join();
      }
    }
    return !checks.failed();
  }

  private static double metric(RoutedFarm farm, String node, String name) {
    double v = farm.metric(node, name);
    return Double.isNaN(v) ? 0 : v;
  }
}
