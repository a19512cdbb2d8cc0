package io.baton.cli.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.cli.farm.GatewayPair;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.wan.WanLink;
import io.baton.lab.wan.WanTopology;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two real gateway processes across an emulated WAN (20 ms each way, 200 Mbit/s; loss where a test
 * says), a LAN client with curl and raw sockets, the sample app on the remote server. Proves:
 * interception of registered address:port pairs only; byte-exact transfers both ways with 1 and 8
 * WAN connections under loss and reordering; half-close; resets both ways; a WAN failure
 * mid-transfer fails the client's connection; refused registrations say why.
 */
@Tag("lab")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayLabTest {
  private static final long BIG = 24L << 20;
  private static GatewayPair pair;
  private static String bigSha;

  @BeforeAll
  static void start() throws Exception {
    pair = new GatewayPair("gateway", WanLink.of(Duration.ofMillis(20), 200_000_000L), BIG);
    bigSha = sha(Files.readAllBytes(pair.content.resolve("big.bin")));
  }

  @AfterAll
  static void stop() {
    if (pair != null) pair.close();
  }

  @Test
  @Order(1)
  void unregisteredTrafficIsRoutedUntouched() throws Exception {
    long opens = passiveOpens("gwa");
    assertThat(download(GatewayPair.UNREGISTERED_PORT, "/big.bin")).isEqualTo(bigSha);
    assertThat(download(GatewayPair.REGISTERED_PORT, "/whoami.txt"))
        .isEqualTo(sha("remote\n".getBytes()));
    assertThat(passiveOpens("gwa"))
        .as("gwa accepted nothing: the kernel forwarded")
        .isEqualTo(opens);
  }

  @Test
  @Order(2)
  void refusedRegistrationsSayWhy() throws Exception {
    Path wrongKey = pair.lab.dir().resolve("wrong.key");
    Files.writeString(wrongKey, "00".repeat(32));
    CommandResult r =
        pair.cli(
            "remote",
            "register",
            "--gateway",
            WanTopology.GWA_LAN_IP + ":7500",
            "--key-file",
            wrongKey.toString(),
            "--remote",
            WanTopology.REMOTE_IP,
            "--port",
            "80",
            "--peer",
            WanTopology.GWB_WAN_IP + ":7600");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.stdout()).contains("bad seal");
    r = pair.register("--congestion-control", "nosuchcc");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.stdout()).contains("congestionControl").contains("not available");
    r = pair.register("--qos", "CBR");
    assertThat(r.stdout()).contains("CBR needs rateBitsPerSecond");
    // A registration that lapses: one second, then connections are routed untouched again.
    r = pair.register("--ttl", "1");
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
    GatewayPair.await(
        () -> !pair.registerCli("--list").stdout().contains(WanTopology.REMOTE_IP),
        Duration.ofSeconds(5),
        "the registration to lapse");
    long opens = passiveOpens("gwa");
    assertThat(download(GatewayPair.REGISTERED_PORT, "/whoami.txt"))
        .isEqualTo(sha("remote\n".getBytes()));
    assertThat(passiveOpens("gwa")).isEqualTo(opens);
  }

  @Test
  @Order(3)
  void registeredConnectionsAreInterceptedAndByteExactBothWaysWithEightConnections()
      throws Exception {
    CommandResult r = pair.register("--connections", "8", "--congestion-control", "bbr");
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
    assertThat(pair.registerCli("--list").stdout())
        .contains(WanTopology.REMOTE_IP)
        .contains("\"connections\" : 8");
    long opens = passiveOpens("gwa");
    assertThat(download(GatewayPair.REGISTERED_PORT, "/big.bin")).isEqualTo(bigSha);
    assertThat(upload(8 << 20)).isTrue();
    assertThat(passiveOpens("gwa") - opens)
        .as("gwa terminated the client's connections")
        .isGreaterThanOrEqualTo(2);
    // The metrics say the same: intercepted on gwa, served on gwb, the bytes both ways.
    assertThat(pair.metric("gwa", "baton_gateway_connections_intercepted_total"))
        .isGreaterThanOrEqualTo(2);
    assertThat(pair.metric("gwa", "baton_gateway_registrations")).isEqualTo(1);
    assertThat(pair.metric("gwa", "baton_gateway_trunks_up")).isEqualTo(1);
    assertThat(pair.metric("gwb", "baton_gateway_wan_sent_bytes_total"))
        .isGreaterThanOrEqualTo(BIG + (8 << 20));
    assertThat(pair.metric("gwa", "baton_gateway_wan_received_bytes_total"))
        .isGreaterThanOrEqualTo(BIG + (8 << 20));
    assertThat(pair.metric("gwa", "baton_gateway_wan_sent_bytes_total"))
        .isGreaterThanOrEqualTo(8 << 20);
    assertThat(download(GatewayPair.UNREGISTERED_PORT, "/whoami.txt"))
        .isEqualTo(sha("remote\n".getBytes()));
  }

  @Test
  @Order(4)
  void lossAndReorderingOnTheWanLoseNoByteWithOneAndEightConnections() throws Exception {
    pair.wan
        .line()
        .setLink(
            WanLink.of(Duration.ofMillis(20), 200_000_000L)
                .withLossProbability(0.01)
                .withReorder(0.01, Duration.ofMillis(3)));
    try {
      for (String n : new String[] {"1", "8"}) {
        CommandResult r = pair.register("--connections", n, "--congestion-control", "bbr");
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(download(GatewayPair.REGISTERED_PORT, "/big.bin"))
            .as("download, N=" + n)
            .isEqualTo(bigSha);
        assertThat(upload(4 << 20)).as("upload, N=" + n).isTrue();
      }
      assertThat(pair.wan.line().countersText()).isNotEmpty();
    } finally {
      pair.wan.line().setLink(WanLink.of(Duration.ofMillis(20), 200_000_000L));
    }
  }

  @Test
  @Order(5)
  void aHalfClosedClientGetsTheWholeAnswer() throws Exception {
    assertThat(pair.register("--connections", "4").exitCode()).isZero();
    String got =
        pair.host("client")
            .call(
                () -> {
                  try (Socket s = new Socket()) {
                    s.connect(
                        new InetSocketAddress(WanTopology.REMOTE_IP, GatewayPair.REGISTERED_PORT),
                        5_000);
                    s.setSoTimeout(30_000);
                    s.getOutputStream()
                        .write(
                            "GET /big.bin HTTP/1.1\r\nHost: remote\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                    s.shutdownOutput();
                    byte[] all = s.getInputStream().readAllBytes();
                    int body = indexOf(all, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII)) + 4;
                    return sha(java.util.Arrays.copyOfRange(all, body, all.length));
                  }
                });
    assertThat(got).isEqualTo(bigSha);
  }

  @Test
  @Order(6)
  void aClientResetEndsTheStreamOnBothGateways() throws Exception {
    assertThat(pair.register("--connections", "2").exitCode()).isZero();
    pair.host("client")
        .call(
            () -> {
              Socket s = new Socket();
              s.connect(
                  new InetSocketAddress(WanTopology.REMOTE_IP, GatewayPair.REGISTERED_PORT), 5_000);
              OutputStream out = s.getOutputStream();
              out.write(
                  "POST /echo HTTP/1.1\r\nHost: remote\r\nContent-Length: 100000000\r\n\r\n"
                      .getBytes(StandardCharsets.US_ASCII));
              out.write(new byte[64 * 1024]);
              out.flush();
              GatewayPair.await(
                  () -> pair.streams("gwb").contains("\"side\" : \"far\""),
                  Duration.ofSeconds(10),
                  "the stream to reach gwb");
              assertThat(pair.streams("gwa"))
                  .contains("\"side\" : \"near\"")
                  .contains(WanTopology.CLIENT_IP);
              s.setSoLinger(true, 0);
              s.close();
              return null;
            });
    GatewayPair.await(
        () ->
            !pair.streams("gwa").contains("\"stream\"")
                && !pair.streams("gwb").contains("\"stream\""),
        Duration.ofSeconds(10),
        "both gateways to drop the reset stream");
  }

  @Test
  @Order(7)
  void aClientThatDoesNotReadBoundsWhatTheGatewaysHold() throws Exception {
    int window = 1 << 20;
    assertThat(pair.register("--connections", "4", "--window", String.valueOf(window)).exitCode())
        .isZero();
    Socket s =
        pair.host("client")
            .call(
                () -> {
                  Socket socket = new Socket();
                  socket.connect(
                      new InetSocketAddress(WanTopology.REMOTE_IP, GatewayPair.REGISTERED_PORT),
                      5_000);
                  socket
                      .getOutputStream()
                      .write(
                          "GET /big.bin HTTP/1.1\r\nHost: remote\r\nConnection: close\r\n\r\n"
                              .getBytes(StandardCharsets.US_ASCII));
                  return socket;
                });
    try (s) {
      // The client reads nothing: what the far gateway has sent over the WAN must stop growing.
      long[] last = {-1};
      GatewayPair.await(
          () -> {
            long now = streamBytes("gwb", "far", "bytesToWan");
            boolean still = now > 0 && now == last[0];
            last[0] = now;
            return still;
          },
          Duration.ofSeconds(30),
          "the far gateway to stop sending to a client that does not read");
      long sent = last[0];
      long delivered = streamBytes("gwa", "near", "bytesFromWan");
      System.out.printf(
          "client not reading: gwb sent %,d bytes over the WAN, gwa wrote %,d to the client's socket"
              + " (window %,d)%n",
          sent, delivered, window);
      assertThat(sent).as("stopped well short of the file").isLessThan(BIG / 2);
      assertThat(sent - delivered)
          .as("in flight or buffered between the gateways: at most one window")
          .isLessThanOrEqualTo(window);
      // Reading resumes the flow: the whole file arrives.
      s.setSoTimeout(60_000);
      byte[] all = s.getInputStream().readAllBytes();
      int body = indexOf(all, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII)) + 4;
      assertThat(sha(java.util.Arrays.copyOfRange(all, body, all.length))).isEqualTo(bigSha);
    }
  }

  @Test
  @Order(9)
  void resetsPropagateBothWaysAndTheTrunkCarriesItsDscp() throws Exception {
    // The WAN failure test killed gwb: start it again.
    pair.start("gwb");
    GatewayPair.await(
        () -> Files.readString(pair.host("gwb").stdoutOf(pair.process("gwb"))).contains("; up"),
        Duration.ofSeconds(60),
        "gwb to come back");
    int port = 9000;
    assertThat(pair.register("--connections", "2", "--port", String.valueOf(port)).exitCode())
        .isZero();
    pair.host("wan").execOrThrow("nft", "add table ip dscpcheck");
    pair.host("wan")
        .execOrThrow("nft", "add chain ip dscpcheck chk { type filter hook forward priority 0 ; }");
    pair.host("wan").execOrThrow("nft", "add rule ip dscpcheck chk tcp dport 7600 counter");
    pair.host("wan")
        .execOrThrow("nft", "add rule ip dscpcheck chk tcp dport 7600 ip dscp af21 counter");
    // From gwb, packets that carry frames (longer than any pure ACK, SACK blocks included).
    pair.host("wan")
        .execOrThrow("nft", "add rule ip dscpcheck chk tcp sport 7600 ip length > 120 counter");
    pair.host("wan")
        .execOrThrow(
            "nft", "add rule ip dscpcheck chk tcp sport 7600 ip length > 120 ip dscp af21 counter");
    assertThat(download(GatewayPair.REGISTERED_PORT, "/big.bin")).isEqualTo(bigSha);
    // A server that resets: the client must see a reset, not an end of stream.
    java.util.concurrent.Future<String> server =
        pair.host("remote")
            .executor()
            .submit(
                () -> {
                  try (java.net.ServerSocket listen = new java.net.ServerSocket()) {
                    listen.bind(new InetSocketAddress(WanTopology.REMOTE_IP, port));
                    listen.setSoTimeout(20_000);
                    // First connection: read its first bytes, then reset it.
                    Socket one = listen.accept();
                    one.getInputStream().readNBytes(5);
                    one.setSoLinger(true, 0);
                    one.close();
                    // Second connection: the client resets; the server must see the reset.
                    try (Socket two = listen.accept()) {
                      two.setSoTimeout(20_000);
                      try {
                        while (two.getInputStream().read(new byte[65536]) >= 0) {}
                        return "end of stream";
                      } catch (java.net.SocketException e) {
                        return "reset: " + e.getMessage();
                      }
                    }
                  }
                });
    String clientSaw =
        pair.host("client")
            .call(
                () -> {
                  try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(WanTopology.REMOTE_IP, port), 5_000);
                    s.setSoTimeout(20_000);
                    s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                    try {
                      int n = s.getInputStream().read();
                      return n < 0 ? "end of stream" : "a byte";
                    } catch (java.net.SocketException e) {
                      return "reset: " + e.getMessage();
                    }
                  }
                });
    assertThat(clientSaw).startsWith("reset");
    pair.host("client")
        .call(
            () -> {
              Socket s = new Socket();
              s.connect(new InetSocketAddress(WanTopology.REMOTE_IP, port), 5_000);
              s.getOutputStream().write(new byte[100_000]);
              s.getOutputStream().flush();
              GatewayPair.await(
                  () -> pair.streams("gwb").contains("\"side\" : \"far\""),
                  Duration.ofSeconds(10),
                  "the connection to reach the server");
              s.setSoLinger(true, 0);
              s.close();
              return null;
            });
    assertThat(server.get(30, java.util.concurrent.TimeUnit.SECONDS)).startsWith("reset");
    String counters = pair.host("wan").execOrThrow("nft", "list table ip dscpcheck").stdout();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("counter packets (\\d+)").matcher(counters);
    long[] c = new long[4];
    for (int i = 0; i < 4; i++) {
      assertThat(m.find()).as(counters).isTrue();
      c[i] = Long.parseLong(m.group(1));
    }
    assertThat(c[0]).as("packets to gwb's tunnel port").isPositive();
    assertThat(c[1]).as("of them marked AF21 (QoS class ABR)").isEqualTo(c[0]);
    assertThat(c[2]).as("frame-carrying packets from gwb's tunnel port").isPositive();
    // gwb marks its sockets when the HELLO tells it the class: only its handshake and first ACKs
    // go out before, never a frame.
    assertThat(c[3]).as("of them marked AF21").isEqualTo(c[2]);
  }

  /**
   * One stream's counter from gateway {@code node}'s port conversion table (the only stream on that
   * side).
   */
  private static long streamBytes(String node, String side, String field) throws Exception {
    var rows =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(pair.streams(node))
            .get("streams");
    for (var row : rows) if (row.get("side").asText().equals(side)) return row.get(field).asLong();
    return 0;
  }

  @Test
  @Order(8)
  void aWanFailureMidTransferFailsTheClientNotSilently() throws Exception {
    assertThat(pair.register("--connections", "4").exitCode()).isZero();
    // 4 Mbit/s: the 24 MiB download takes ~50 s, so it is mid-transfer when gwb dies.
    pair.wan.line().setLink(WanLink.of(Duration.ofMillis(20), 4_000_000L));
    Host client = pair.host("client");
    Path out = pair.lab.dir().resolve("cut.bin");
    Process curl =
        client.start(
            java.util.List.of(
                "curl",
                "-sS",
                "-m",
                "60",
                "-o",
                out.toString(),
                "http://" + WanTopology.REMOTE_IP + "/big.bin"));
    GatewayPair.await(
        () -> Files.exists(out) && Files.size(out) > 1_000_000,
        Duration.ofSeconds(30),
        "the download to start");
    pair.kill9("gwb");
    try {
      assertThat(curl.waitFor(40, java.util.concurrent.TimeUnit.SECONDS)).as("curl ended").isTrue();
      assertThat(curl.exitValue()).as("curl saw the failure (exit code)").isNotZero();
      assertThat(Files.size(out)).isLessThan(BIG);
      long mismatch = Files.mismatch(out, pair.content.resolve("big.bin"));
      assertThat(mismatch)
          .as("what arrived is a clean prefix of the file")
          .isEqualTo(Files.size(out));
    } finally {
      pair.wan.line().setLink(WanLink.of(Duration.ofMillis(20), 200_000_000L));
    }
  }

  // --- helpers ---

  private static long passiveOpens(String host) {
    return pair.host(host).snmpCounter("Tcp", "PassiveOpens");
  }

  /** curl from the client; the body's SHA-256 (curl must succeed). */
  private static String download(int port, String path) throws Exception {
    Path out = Files.createTempFile(pair.lab.dir(), "dl", ".bin");
    CommandResult r =
        pair.host("client")
            .exec(
                java.util.List.of(
                    "curl",
                    "-sS",
                    "-f",
                    "-m",
                    "120",
                    "-o",
                    out.toString(),
                    "http://" + WanTopology.REMOTE_IP + ":" + port + path),
                Duration.ofSeconds(130));
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
    String sha = sha(Files.readAllBytes(out));
    Files.delete(out);
    return sha;
  }

  /** POST /echo of random bytes from the client; whether the echo is byte-exact. */
  private static boolean upload(int bytes) throws Exception {
    byte[] body = new byte[bytes];
    new java.util.SplittableRandom(bytes).nextBytes(body);
    Path in = Files.write(Files.createTempFile(pair.lab.dir(), "up", ".bin"), body);
    Path out = Files.createTempFile(pair.lab.dir(), "echo", ".bin");
    CommandResult r =
        pair.host("client")
            .exec(
                java.util.List.of(
                    "curl",
                    "-sS",
                    "-f",
                    "-m",
                    "120",
                    "--data-binary",
                    "@" + in,
                    "-H",
                    "Content-Type: application/octet-stream",
                    "-o",
                    out.toString(),
                    "http://" + WanTopology.REMOTE_IP + "/echo"),
                Duration.ofSeconds(130));
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
    return sha(Files.readAllBytes(out)).equals(sha(body));
  }

  private static String sha(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int k = 0; k < needle.length; k++) if (hay[i + k] != needle[k]) continue outer;
      return i;
    }
    return -1;
  }
}
