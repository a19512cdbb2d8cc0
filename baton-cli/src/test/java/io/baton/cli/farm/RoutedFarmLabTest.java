package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import io.baton.linux.EncapHeader;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Servers behind a router ({@link RoutedFarm}): the real {@code baton dispatcher|server --config}
 * processes, the dispatcher forwarding every later client packet encapsulated, the servers
 * answering through the router from the VIP. TCP connections handed off, UDP flows to two DNS
 * servers behind one VIP, and forged encapsulated packets.
 */
@Tag("lab")
class RoutedFarmLabTest {
  private static final Duration CURL = Duration.ofSeconds(120);
  private static final String TIMEOUTS =
      """
      timeouts:
        fabric-dead-after: 600ms
        fabric-heartbeat: 200ms
      """;

  @Test
  void largeDownloadsAndUploadsCrossTheRouterEncapsulated() throws Exception {
    try (RoutedFarm farm = new RoutedFarm("routed-tcp", TIMEOUTS).startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      long bodyBytes = 50L << 20;
      downloadAndEcho(farm, RoutedFarm.url("/"), "v4", bodyBytes);

      // Both went through handoffs, and every later client packet crossed encapsulated: the
      // servers' fabric is not d1's segment, so nothing else could have reached them.
      assertThat(farm.metric("d1", "baton_dispatcher_handoffs_total")).isEqualTo(2.0);
      double encapsulated =
          farm.metric("d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"encap\"}");
      double decapsulated =
          farm.metric("s1", "baton_server_encap_packets_total{result=\"decapsulated\"}")
              + farm.metric("s2", "baton_server_encap_packets_total{result=\"decapsulated\"}");
      System.out.printf(
          "routed: d1 encapsulated %.0f packets, the servers decapsulated %.0f%n",
          encapsulated, decapsulated);
      // 50 MiB in segments of at most the clamped MSS (1404 bytes).
      assertThat(encapsulated).isGreaterThan((double) bodyBytes / 65536);
      assertThat(decapsulated).isGreaterThanOrEqualTo(encapsulated * 0.99);
      assertThat(
              farm.metric(
                  "d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"encap_failed\"}"))
          .isZero();
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
    }
  }

  /**
   * IPv6 clients on the front, the fabric IPv4: a 100 MiB GET and a 20 MiB POST to the IPv6 VIP
   * through handoffs, each later packet wrapped (version 2 header) to the servers' IPv4 fabric
   * addresses; dig over IPv6 spread over both DNS servers; one IPv6 flow staying on its server.
   */
  @Test
  void ipv6ClientsCrossTheIpv4FabricWrapped() throws Exception {
    try (RoutedFarm farm = new RoutedFarm("routed-v6", TIMEOUTS).startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      downloadAndEcho(farm, RoutedFarm.url6("/"), "v6", 20L << 20, "-g");
      assertThat(farm.metric("d1", "baton_dispatcher_handoffs_total")).isEqualTo(2.0);
      assertThat(farm.metric("d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"encap\"}"))
          .as("packets wrapped")
          .isGreaterThan(300);

      Set<String> answered = new HashSet<>();
      for (int i = 0; i < 12; i++) {
        CommandResult r = farm.dig(RoutedFarm.VIP6);
        assertThat(r.exitCode()).as("dig over IPv6: %s %s", r.stdout(), r.stderr()).isZero();
        answered.add(r.stdout().strip());
      }
      assertThat(answered)
          .as("servers that answered dig over IPv6")
          .containsExactlyInAnyOrder("198.18.0.11", "198.18.0.12");
      InetSocketAddress dns6 = new InetSocketAddress(RoutedFarm.VIP6, 53);
      InetSocketAddress flow6 = new InetSocketAddress(RoutedFarm.CLIENT_IP6, 40056);
      String first = ask(farm, flow6, dns6).orElseThrow();
      for (int i = 0; i < 5; i++) {
        assertThat(ask(farm, flow6, dns6)).as("query %d of one IPv6 flow", i).contains(first);
      }
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
    }
  }

  @Test
  void udpFlowsSpreadOverTwoDnsServersStayAndMoveWhenTheirServerDies() throws Exception {
    try (RoutedFarm farm = new RoutedFarm("routed-udp", TIMEOUTS).startAll()) {
      InetSocketAddress dns = new InetSocketAddress(RoutedFarm.VIP, 53);
      // dig, as an operator would: new source port per query, each a new flow; every answer has
      // to come from the VIP (dig ignores a reply from any other address and times out).
      Set<String> answered = new HashSet<>();
      for (int i = 0; i < 12; i++) {
        CommandResult r = farm.dig(RoutedFarm.VIP);
        assertThat(r.exitCode())
            .as("dig: %s %s\n%s", r.stdout(), r.stderr(), farm.log("d1"))
            .isZero();
        answered.add(r.stdout().strip());
      }
      assertThat(answered)
          .as("servers that answered dig")
          .containsExactlyInAnyOrder("198.18.0.11", "198.18.0.12");

      // The agent's own echo answers from the VIP too, byte for byte.
      List<String> echoed =
          farm.client.call(
              () -> {
                List<String> got = new java.util.ArrayList<>();
                try (var socket =
                    new java.net.DatagramSocket(
                        new InetSocketAddress(RoutedFarm.CLIENT_IP, 40007))) {
                  socket.setSoTimeout(2000);
                  var echo = new InetSocketAddress(RoutedFarm.VIP, 7);
                  for (int i = 0; i < 5; i++) {
                    byte[] msg =
                        ("datagram " + i).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    socket.send(new java.net.DatagramPacket(msg, msg.length, echo));
                    var reply = new java.net.DatagramPacket(new byte[1500], 1500);
                    socket.receive(reply);
                    got.add(
                        reply.getSocketAddress()
                            + " "
                            + new String(
                                reply.getData(),
                                0,
                                reply.getLength(),
                                java.nio.charset.StandardCharsets.US_ASCII));
                  }
                }
                return got;
              });
      assertThat(echoed)
          .containsExactly(
              "/198.18.0.100:7 datagram 0",
              "/198.18.0.100:7 datagram 1",
              "/198.18.0.100:7 datagram 2",
              "/198.18.0.100:7 datagram 3",
              "/198.18.0.100:7 datagram 4");

      // One flow (fixed source port) stays on its server, and its datagrams after the first never
      // reach the dispatcher's socket.
      InetSocketAddress flow = new InetSocketAddress(RoutedFarm.CLIENT_IP, 40053);
      String first = ask(farm, flow, dns).orElseThrow();
      double sentByDispatcher0 = events(farm, "datagram_sent_by_dispatcher");
      for (int i = 0; i < 10; i++) {
        assertThat(ask(farm, flow, dns)).as("query %d of one flow", i).contains(first);
      }
      assertThat(events(farm, "datagram_sent_by_dispatcher"))
          .as("datagrams of a known flow the dispatcher handled itself")
          .isEqualTo(sentByDispatcher0);
      assertThat(farm.metric("d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"encap\"}"))
          .isGreaterThanOrEqualTo(10);
      String owner0 = first.equals(RoutedFarm.WHO.get("s1")) ? "s1" : "s2";
      assertThat(FarmChecks.ctl(farm, "d1", "connections").stdout())
          .as("ctl connections on d1")
          .contains("UDP VIP")
          .containsPattern("198\\.18\\.0\\.100:53 +198\\.18\\.0\\.10:40053 +" + owner0);
      assertThat(farm.metric("d1", "baton_dispatcher_udp_flows{server=\"" + owner0 + "\"}"))
          .isGreaterThanOrEqualTo(1);

      // Its server dies: the host drops off the network (its fabric link goes down), so nothing
      // closes the fabric session and the dispatcher learns it from the session's silence
      // (fabric-dead-after, 600 ms here). The flow's next queries are answered by the other
      // server within a second.
      String owner = first.equals(RoutedFarm.WHO.get("s1")) ? "s1" : "s2";
      String other = owner.equals("s1") ? "s2" : "s1";
      farm.hosts.get(owner).execOrThrow("ip", "link", "set", "fabric", "down");
      long t0 = System.nanoTime();
      Optional<String> moved = Optional.empty();
      while (System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos()) {
        moved = ask(farm, flow, dns, 100);
        if (moved.isPresent()) break;
      }
      long ms = (System.nanoTime() - t0) / 1_000_000;
      System.out.printf("udp: flow moved from %s to %s %d ms after its death%n", owner, other, ms);
      assertThat(moved)
          .as("the flow's answer after %s died", owner)
          .contains(RoutedFarm.WHO.get(other));
      assertThat(ms).as("ms until the flow answered from %s", other).isLessThan(1000);
      assertThat(events(farm, "server_lost")).isPositive();
    }
  }

  @Test
  void forgedEncapsulatedPacketsAreDroppedAndCounted() throws Exception {
    try (RoutedFarm farm = new RoutedFarm("routed-forged", TIMEOUTS).startAll()) {
      long check =
          new io.baton.config.ClusterConfig(
                  java.util.HexFormat.of().parseHex(farm.key), "inline", 7400)
              .encapCheck();
      Inet4Address client = (Inet4Address) InetAddress.getByName(RoutedFarm.CLIENT_IP);
      Inet4Address vip = (Inet4Address) InetAddress.getByName(RoutedFarm.VIP);
      byte[] good =
          new EncapHeader(EncapHeader.UDP, 1, check, client, 5555, vip, 7)
              .udpPayload("x".getBytes());
      byte[] wrongCheck =
          new EncapHeader(EncapHeader.UDP, 1, check ^ 1, client, 5555, vip, 7)
              .udpPayload("x".getBytes());
      // The header names port 5556, the packet inside comes from 5555.
      byte[] wrongReference = good.clone();
      wrongReference[21] = (byte) (5556 & 0xff);
      double badCheck0 = decap(farm, "bad_check");
      double badReference0 = decap(farm, "bad_reference");
      double ok0 = decap(farm, "decapsulated");
      farm.router.call(
          () -> {
            try (var ch = java.nio.channels.DatagramChannel.open()) {
              var s1 = new InetSocketAddress("198.18.3.11", 7401);
              for (int i = 0; i < 5; i++) {
                ch.send(java.nio.ByteBuffer.wrap(wrongCheck), s1);
                ch.send(java.nio.ByteBuffer.wrap(wrongReference), s1);
              }
            }
            return null;
          });
      ProcessLab.awaitTrue(
          () ->
              decap(farm, "bad_check") - badCheck0 == 5
                  && decap(farm, "bad_reference") - badReference0 == 5,
          Duration.ofSeconds(10),
          "s1 counting the forged datagrams");
      assertThat(decap(farm, "decapsulated"))
          .as("forged datagrams that reached s1's stack")
          .isEqualTo(ok0);
    }
  }

  /**
   * The dispatcher killed (SIGKILL) and started again mid-download: its BPF program goes with the
   * process, so for the restart the encapsulated connections' packets meet only the nftables table
   * (which cannot reach a server behind the router) and are dropped, then retransmitted; the new
   * process adopts the table and wraps them again. Nothing is lost: the download arrives whole, the
   * keep-alive connections answer again, no RST, and the UDP VIP answers.
   */
  @Test
  void aDispatcherRestartLosesNoEncapsulatedConnection() throws Exception {
    try (RoutedFarm farm = new RoutedFarm("routed-restart", TIMEOUTS).startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      Path out = farm.lab.dir().resolve("download.bin");
      Process download =
          farm.client.start(
              List.of(
                  "curl",
                  "-sS",
                  "--max-time",
                  "120",
                  "--limit-rate",
                  "20M",
                  "-o",
                  out.toString(),
                  RoutedFarm.url("/big.bin")));
      List<KeepAliveClient> conns =
          farm.client.call(
              () -> {
                List<KeepAliveClient> list = new java.util.ArrayList<>();
                for (int i = 0; i < 10; i++) {
                  KeepAliveClient c = new KeepAliveClient(RoutedFarm.VIP, 80);
                  c.get("/whoami.txt");
                  list.add(c);
                }
                return list;
              });
      ProcessLab.awaitTrue(
          () -> Files.exists(out) && Files.size(out) > 10 << 20,
          Duration.ofSeconds(20),
          "10 MiB downloaded");
      farm.kill9("d1");
      long before = Files.size(out);
      farm.start("d1");
      for (String s : RoutedFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
      }
      assertThat(download.waitFor(100, java.util.concurrent.TimeUnit.SECONDS))
          .as("download finished")
          .isTrue();
      assertThat(download.exitValue())
          .as("curl exit: %s", Files.readString(farm.client.stderrOf(download)))
          .isZero();
      assertThat(sha256(out)).isEqualTo(sha256(farm.bigFile));
      assertThat(before)
          .as("the restart happened mid-download")
          .isLessThan(RoutedFarm.BIG_FILE_BYTES);
      List<String> again =
          farm.client.call(
              () -> {
                List<String> bodies = new java.util.ArrayList<>();
                for (KeepAliveClient c : conns) {
                  bodies.add(c.get("/whoami.txt").strip());
                  c.close();
                }
                return bodies;
              });
      assertThat(again).hasSize(10).containsOnly("s1", "s2");
      assertThat(farm.log("d1")).contains("adopted");
      assertThat(
              ask(
                  farm,
                  new InetSocketAddress(RoutedFarm.CLIENT_IP, 40054),
                  new InetSocketAddress(RoutedFarm.VIP, 53)))
          .as("a DNS answer after the restart")
          .isPresent();
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
    }
  }

  /**
   * A 100 MiB GET of {@code base}big.bin and a POST of {@code uploadBytes} to {@code base}echo
   * (without Expect, so the body crosses after the handoff), both byte-exact; {@code options} go to
   * curl first.
   */
  private static void downloadAndEcho(
      RoutedFarm farm, String base, String tag, long uploadBytes, String... options)
      throws Exception {
    Path out = farm.lab.dir().resolve("down-" + tag + ".bin");
    List<String> get = new java.util.ArrayList<>(List.of(options));
    get.addAll(List.of("-o", out.toString(), base + "big.bin"));
    CommandResult down = farm.curl(CURL, get.toArray(String[]::new));
    assertThat(down.exitCode()).as("%s\n%s", down.stderr(), farm.log("d1")).isZero();
    assertThat(sha256(out)).as("100 MiB download (%s)", tag).isEqualTo(sha256(farm.bigFile));
    Path upload =
        Farm.truncatedCopy(farm.bigFile, farm.lab.dir().resolve("up-" + tag + ".bin"), uploadBytes);
    Path echoed = farm.lab.dir().resolve("echoed-" + tag + ".bin");
    List<String> post = new java.util.ArrayList<>(List.of(options));
    post.addAll(List.of(Curl.post(upload, echoed, base + "echo")));
    CommandResult up = farm.curl(CURL, post.toArray(String[]::new));
    assertThat(up.exitCode()).as(up.stderr()).isZero();
    assertThat(sha256(echoed))
        .as("%d MiB POST echoed (%s)", uploadBytes >> 20, tag)
        .isEqualTo(sha256(upload));
  }

  private static double decap(RoutedFarm farm, String result) {
    return farm.metric("s1", "baton_server_encap_packets_total{result=\"" + result + "\"}");
  }

  private static double events(RoutedFarm farm, String event) {
    return farm.metric("d1", "baton_dispatcher_udp_flow_events_total{event=\"" + event + "\"}");
  }

  private static Optional<String> ask(
      RoutedFarm farm, InetSocketAddress local, InetSocketAddress dns) throws Exception {
    return ask(farm, local, dns, 2000);
  }

  private static Optional<String> ask(
      RoutedFarm farm, InetSocketAddress local, InetSocketAddress dns, int timeoutMs)
      throws Exception {
    return farm.client.call(() -> DnsProbe.ask(local, dns, "who.farm.test", timeoutMs));
  }
}
