package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.HandoffClient;
import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The product path end to end in lab namespaces with real clients: curl and raw sockets in the
 * client namespace reach the VIP on d1, which routes each connection by content and hands it to
 * s1 (nginx behind the relay), s2 or s3 (the embedded sample app); the servers answer directly.
 */
@Tag("lab")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FarmLabTest {
  private static final Duration CURL = Duration.ofSeconds(60);
  private Farm farm;
  private String bigSha;
  private long baselineFds;
  private RstCounter clientRsts;

  @BeforeAll
  void startFarm() throws Exception {
    farm = Farm.start("farm", Map.of("d1", """
        timeouts:
          first-byte: 2s
          head: 2s
          handoff: 2s
          close-grace: 300ms
        """));
    bigSha = sha256(farm.bigFile);
    clientRsts = RstCounter.install(farm.client);
    baselineFds = openSockets();
  }

  @AfterAll
  void stopFarm() {
    if (farm != null) farm.close();
  }

  @Test
  @Order(1)
  void largeDownloadsArriveByteExactAndBypassTheDispatcher() throws Exception {
    long rstBefore = clientRsts();
    var dFront0 = farm.d1.interfaceStats("front");
    for (String path : List.of("/static/big.bin", "/big.bin")) {
      Path out = farm.lab.dir().resolve("dl" + path.replace('/', '-'));
      CommandResult r = farm.curl(CURL, "-o", out.toString(), farm.url(path));
      assertThat(r.exitCode()).as("curl %s: %s", path, r.stderr()).isZero();
      assertThat(Files.size(out)).isEqualTo(Farm.BIG_FILE_BYTES);
      assertThat(sha256(out)).as("SHA-256 of %s", path).isEqualTo(bigSha);
      Files.delete(out);
    }
    var dFront = farm.d1.interfaceStats("front");
    long dispatcherTx = dFront.txBytes() - dFront0.txBytes();
    assertThat(dispatcherTx).as("bytes d1 sent on front for 200 MiB of responses")
        .isLessThan(2L * Farm.BIG_FILE_BYTES / 100);
    assertThat(clientRsts()).as("RSTs received by the client").isEqualTo(rstBefore);
  }

  @Test
  @Order(2)
  void routesByPathHostHeaderAndDefault() {
    assertThat(body(farm.url("/static/whoami.txt"))).isEqualTo("s1\n");
    assertThat(body("-H", "X-Pool: nginx", farm.url("/whoami.txt"))).isEqualTo("s1\n");
    for (int i = 0; i < 4; i++) {
      assertThat(body("-H", "Host: s3.example.test", farm.url("/whoami.txt"))).isEqualTo("s3\n");
    }
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 6; i++) seen.add(body(farm.url("/whoami.txt")));
    assertThat(seen).as("round-robin over the app pool").contains("s2\n", "s3\n").doesNotContain("s1\n");
  }

  @Test
  @Order(3)
  void tlsIsRoutedBySniAndCompletesEndToEnd() {
    for (var expect : Map.of("a.example.test", "s1\n", "b.example.test", "s2\n").entrySet()) {
      CommandResult r = farm.curl(CURL, "--cacert", farm.caCert.toString(), "--resolve",
          expect.getKey() + ":443:" + Farm.VIP, "https://" + expect.getKey() + "/whoami.txt");
      assertThat(r.exitCode()).as("curl https://%s: %s", expect.getKey(), r.stderr()).isZero();
      assertThat(r.stdout()).isEqualTo(expect.getValue());
    }
    CommandResult s = farm.client.exec(List.of("sh", "-c",
        "echo | openssl s_client -connect " + Farm.VIP + ":443 -servername a.example.test -CAfile "
            + farm.caCert + " -verify_return_error 2>&1"), Duration.ofSeconds(30));
    assertThat(s.stdout()).contains("Verify return code: 0 (ok)").contains("CN = baton-lab");
  }

  @Test
  @Order(4)
  void keepAliveAndPipelinedRequestsStayOnTheirConnection() throws Exception {
    CommandResult r = farm.curl(CURL, "-w", "[%{num_connects}]", farm.url("/whoami.txt"),
        farm.url("/whoami.txt"), farm.url("/whoami.txt"));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    String out = r.stdout();
    assertThat(out.split("\\[0\\]", -1)).as("two of three requests reused the connection: %s", out).hasSize(3);
    String server = out.substring(0, 3);
    assertThat(out.replace("[1]", "").replace("[0]", "")).isEqualTo(server.repeat(3));

    String pipelined = "GET /whoami.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3)
        + "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    String answer = rawExchange(80, pipelined.getBytes(StandardCharsets.US_ASCII));
    assertThat(answer.split("HTTP/1.1 200 OK", -1)).as(answer).hasSize(5);
    assertThat(answer).endsWith("</h1>\n");
  }

  @Test
  @Order(5)
  void uploadsWithoutExpectArriveWhileTheConnectionMoves() throws Exception {
    Path upload = farm.lab.dir().resolve("upload.bin");
    Files.copy(farm.bigFile, upload, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (var ch = java.nio.channels.FileChannel.open(upload, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(50L << 20);
    }
    Path echoed = farm.lab.dir().resolve("echoed.bin");
    CommandResult r = farm.curl(CURL, "-H", "Expect:", "--data-binary", "@" + upload,
        "-o", echoed.toString(), farm.url("/echo"));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(sha256(echoed)).as("50 MiB POST echoed").isEqualTo(sha256(upload));

    CommandResult chunked = farm.curl(CURL, "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
        "--data-binary", "@" + farm.webRoots.get("s2").resolve("index.html"), farm.url("/echo"));
    assertThat(chunked.stdout()).isEqualTo("<h1>s2</h1>\n");
    CommandResult http10 = farm.curl(CURL, "-0", farm.url("/whoami.txt"));
    assertThat(http10.stdout()).isIn("s2\n", "s3\n");
    Files.delete(upload);
    Files.delete(echoed);
  }

  @Test
  @Order(6)
  void l4ModeHandsOffWithoutReading() {
    CommandResult r = farm.curl(CURL, "http://" + Farm.VIP + ":" + Farm.L4_PORT + "/whoami.txt");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).isIn("s2\n", "s3\n");
  }

  @Test
  @Order(7)
  void aRefusingServerIsSkippedAndNoServerMeans503() {
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long refusedBefore = stats.refusedByServer.sum();
    for (int i = 0; i < 4; i++) {
      CommandResult r = farm.curl(CURL, "http://" + Farm.VIP + ":8081/whoami.txt");
      assertThat(r.stdout()).as(r.stderr()).isEqualTo("s3\n");
    }
    assertThat(stats.refusedByServer.sum() - refusedBefore).as("s2 refused its turns").isGreaterThanOrEqualTo(2);

    CommandResult ghost = farm.curl(CURL, "-H", "X-Pool: ghost", "-w", "%{http_code}", farm.url("/whoami.txt"));
    assertThat(ghost.stdout()).startsWith("503 Service Unavailable").endsWith("503");
  }

  @Test
  @Order(8)
  void badHeadsGetClearAnswers() throws Exception {
    assertThat(rawExchange(80, "GARBAGE\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
        .startsWith("HTTP/1.1 400 Bad Request");
    String huge = "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + "a".repeat(20_000) + "\r\n\r\n";
    assertThat(rawExchange(80, huge.getBytes(StandardCharsets.US_ASCII)))
        .startsWith("HTTP/1.1 431 Request Header Fields Too Large");
    assertThat(rawExchange(80, "GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII)))
        .as("a head that never completes").startsWith("HTTP/1.1 408 Request Timeout");
  }

  @Test
  @Order(9)
  void aClientThatAbortsMidTransferLeavesNothingBehind() {
    CommandResult r = farm.client.exec(List.of("curl", "-sS", "--limit-rate", "2M", "--max-time", "1",
        "-o", "/dev/null", farm.url("/big.bin")), Duration.ofSeconds(20));
    assertThat(r.exitCode()).as("curl gave up after 1 s: %s", r.stderr()).isEqualTo(28);
  }

  @Test
  @Order(10)
  void aForgedFabricFrameIsRefusedAndCounted() throws Exception {
    var s2 = farm.nodes.get("s2").server();
    long before = s2.fabric().authFailures();
    byte[] wrongKey = new byte[32];
    HandoffClient forger = farm.d1.call(() -> {
      var group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
          io.netty.channel.epoll.EpollIoHandler.newFactory());
      group.submit(() -> { }).sync();
      HandoffClient c = new HandoffClient(group, new InetSocketAddress("198.18.1.12", 7400), wrongKey,
          "mallory", new HandoffClient.Listener() { }, Duration.ofSeconds(2));
      c.connect();
      return c;
    });
    try {
      awaitTrue(() -> s2.fabric().authFailures() > before, Duration.ofSeconds(10), "s2 counted the forgery");
      assertThat(forger.isConnected()).isFalse();
    } finally {
      forger.close();
    }
  }

  @Test
  @Order(11)
  void theDispatcherServesItselfWithoutAHandoffInPeerMode() throws Exception {
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long localBefore = stats.servedLocally.sum();
    long handedOffBefore = stats.handedOff.sum();
    assertThat(body("-H", "X-Pool: local", farm.url("/whoami.txt"))).isEqualTo("d1\n");
    assertThat(body("http://" + Farm.VIP + ":9001/whoami.txt")).as("l4 through the local relay to nginx").isEqualTo("d1\n");
    Path out = farm.lab.dir().resolve("local-big.bin");
    CommandResult r = farm.curl(CURL, "-o", out.toString(), "http://" + Farm.VIP + ":9001/big.bin");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(sha256(out)).isEqualTo(bigSha);
    Files.delete(out);
    assertThat(stats.servedLocally.sum() - localBefore).isEqualTo(3);
    assertThat(stats.handedOff.sum()).as("no handoff for local service").isEqualTo(handedOffBefore);
  }

  @Test
  @Order(12)
  void theDispatchersMetricsEndpointShowsTheCountersMoving() {
    CommandResult r = farm.d1.exec("curl", "-sS", "--max-time", "10", "http://127.0.0.1:9400/metrics");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    String text = r.stdout();
    assertThat(text).contains("baton_dispatcher_handoffs_total").contains("baton_fabric_up{server=\"s2\"} 1.0")
        .contains("baton_dispatcher_answered_total{reason=\"503\"}")
        .contains("baton_server_connections_active")
        .contains("baton_dispatcher_handoff_stage_seconds{quantile=\"0.99\",stage=\"export\"}");
    var handoffs = java.util.regex.Pattern.compile("(?m)^baton_dispatcher_handoffs_total (\\S+)$").matcher(text);
    assertThat(handoffs.find()).as(text).isTrue();
    assertThat(Double.parseDouble(handoffs.group(1))).isGreaterThan(20);
  }

  @Test
  @Order(100)
  void afterTheTrafficTheForwardingTableEmptiesAndNoSocketLeaks() throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    awaitTrue(() -> forwarding.size().get(5, TimeUnit.SECONDS) == 0, Duration.ofSeconds(20),
        "forwarding table to empty");
    for (String s : Farm.SERVERS) {
      var agent = farm.nodes.get(s).server();
      awaitTrue(() -> agent.activeConnections() == 0, Duration.ofSeconds(20), s + " to have no connection");
    }
    awaitTrue(() -> openSockets() <= baselineFds, Duration.ofSeconds(20),
        "open sockets back to the baseline of " + baselineFds);
    assertThat(farm.nodes.get("d1").dispatcher().forwarding().installedTotal()).isGreaterThan(20);
  }

  // --- helpers -------------------------------------------------------------------------------

  private String body(String... args) {
    CommandResult r = farm.curl(CURL, args);
    assertThat(r.exitCode()).as("curl %s: %s", List.of(args), r.stderr()).isZero();
    return r.stdout();
  }

  /** Sends {@code request} from the client namespace on port {@code port}, reads to EOF. */
  private String rawExchange(int port, byte[] request) throws Exception {
    Socket s = farm.client.call(() -> {
      Socket socket = new Socket();
      socket.connect(new InetSocketAddress(Farm.VIP, port), 5000);
      return socket;
    });
    try (s) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(request);
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) > 0) got.write(buf, 0, n);
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private long clientRsts() throws Exception {
    return clientRsts.received();
  }

  /** Sockets this JVM (which runs every node of the farm) holds open. */
  private static long openSockets() throws Exception {
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.filter(p -> {
        try {
          return Files.readSymbolicLink(p).toString().startsWith("socket:");
        } catch (Exception e) {
          return false;
        }
      }).count();
    }
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) d.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(d.digest());
  }

  interface Check {
    boolean test() throws Exception;
  }

  private static void awaitTrue(Check check, Duration limit, String what) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!check.test()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(10); // polling interval of a deadline-bounded wait
    }
  }
}
