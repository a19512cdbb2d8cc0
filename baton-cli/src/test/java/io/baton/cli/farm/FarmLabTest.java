package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.awaitTrue;
import static io.baton.cli.farm.FarmChecks.openSockets;
import static io.baton.cli.farm.FarmChecks.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.HandoffClient;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.RstCounter;
import io.baton.linux.Nftables;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The product path end to end in lab namespaces with real clients: curl and raw sockets in the
 * client namespace reach the VIP on d1, which routes each connection by content and hands it to s1
 * (nginx behind the relay), s2 or s3 (the embedded sample app); the servers answer directly.
 *
 * <p>One farm serves the whole class, but no test relies on another: each reads its baselines when
 * it starts, runs alone ({@code -Dtest=FarmLabTest#method}) or in any order, and ends only when
 * everything it opened is gone again — every forwarding entry retired after the close grace, every
 * server connection closed, the JVM's socket count back to where the test found it — and the client
 * has received no RST during it.
 */
@Tag("lab")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FarmLabTest {
  private static final Duration CURL = Duration.ofSeconds(60);

  /**
   * Long enough to look at an entry of a closed connection before it goes, short enough to wait
   * for.
   */
  private static final Duration CLOSE_GRACE = Duration.ofMillis(1000);

  private static final Duration QUIET = Duration.ofSeconds(20);
  private Farm farm;
  private String bigSha;
  private RstCounter clientRsts;
  private long rstsAtStart;
  private long socketsAtStart;

  @BeforeAll
  void startFarm() throws Exception {
    farm =
        Farm.start(
            "farm",
            Map.of(
                "d1",
                """
        timeouts:
          first-byte: 2s
          head: 2s
          handoff: 2s
          close-grace: %dms
        """
                    .formatted(CLOSE_GRACE.toMillis())));
    bigSha = sha256(farm.bigFile);
    clientRsts = RstCounter.install(farm.client);
    for (String server : Farm.SERVERS) countForwardedFromClient(farm.servers.get(server));
  }

  /** Also catches an RST that arrived between two tests, outside every test's own window. */
  @AfterAll
  void stopFarm() throws Exception {
    if (farm == null) return;
    try {
      if (clientRsts != null) {
        assertThat(clientRsts.received())
            .as("RST segments the client received over the whole class")
            .isZero();
      }
    } finally {
      farm.close();
    }
  }

  @BeforeEach
  void readBaselines() throws Exception {
    awaitQuiet("before the test");
    rstsAtStart = clientRsts.received();
    socketsAtStart = openSockets().size();
  }

  /**
   * Waits until the test's connections are all gone (entries retired after the grace, so the
   * client's last segments have had their chance to be reset), then checks the client got no RST
   * and the JVM holds no more sockets than when the test started.
   */
  @AfterEach
  void nothingLeftAndNoRst() throws Exception {
    awaitQuiet("after the test");
    awaitTrue(
        () -> openSockets().size() <= socketsAtStart,
        QUIET,
        "this JVM's open sockets back to the " + socketsAtStart + " the test started with");
    // No test expects one: even the aborting client and the dispatcher's own 4xx/503 answers
    // (which discard unread input before closing) end without the client being reset.
    assertThat(clientRsts.received() - rstsAtStart)
        .as("RST segments the client received during the test")
        .isZero();
  }

  @Test
  void largeDownloadsArriveByteExactAndBypassTheDispatcher() throws Exception {
    for (String path : List.of("/static/big.bin", "/big.bin")) {
      var dFront0 = farm.d1.interfaceStats("front");
      Path out = farm.lab.dir().resolve("dl" + path.replace('/', '-'));
      CommandResult r = farm.curl(CURL, "-o", out.toString(), farm.url(path));
      var dFront = farm.d1.interfaceStats("front");
      assertThat(r.exitCode()).as("curl %s: %s", path, r.stderr()).isZero();
      assertThat(Files.size(out)).isEqualTo(Farm.BIG_FILE_BYTES);
      assertThat(sha256(out)).as("SHA-256 of %s", path).isEqualTo(bigSha);
      Files.delete(out);
      long dispatcherTx = dFront.txBytes() - dFront0.txBytes();
      System.out.printf(
          "%s: d1's front interface sent %d bytes in %d packets during the 100 MiB download%n",
          path, dispatcherTx, dFront.txPackets() - dFront0.txPackets());
      assertThat(dispatcherTx)
          .as("bytes d1's front interface sent during the 100 MiB download of %s", path)
          .isLessThan(Farm.DISPATCHER_FRONT_TX_MAX_PER_DOWNLOAD);
    }
  }

  @Test
  void routesByPathHostHeaderAndDefault() {
    assertThat(body(farm.url("/static/whoami.txt"))).isEqualTo("s1\n");
    assertThat(body("-H", "X-Pool: nginx", farm.url("/whoami.txt"))).isEqualTo("s1\n");
    for (int i = 0; i < 4; i++) {
      assertThat(body("-H", "Host: s3.example.test", farm.url("/whoami.txt"))).isEqualTo("s3\n");
    }
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 6; i++) seen.add(body(farm.url("/whoami.txt")));
    assertThat(seen)
        .as("round-robin over the app pool")
        .contains("s2\n", "s3\n")
        .doesNotContain("s1\n");
  }

  @Test
  void tlsIsRoutedBySniAndCompletesEndToEnd() {
    for (var expect : Map.of("a.example.test", "s1\n", "b.example.test", "s2\n").entrySet()) {
      CommandResult r =
          farm.curl(
              CURL,
              "--cacert",
              farm.caCert.toString(),
              "--resolve",
              expect.getKey() + ":443:" + Farm.VIP,
              "https://" + expect.getKey() + "/whoami.txt");
      assertThat(r.exitCode()).as("curl https://%s: %s", expect.getKey(), r.stderr()).isZero();
      assertThat(r.stdout()).isEqualTo(expect.getValue());
    }
    CommandResult s =
        farm.client.exec(
            List.of(
                "sh",
                "-c",
                "echo | openssl s_client -connect "
                    + Farm.VIP
                    + ":443 -servername a.example.test -CAfile "
                    + farm.caCert
                    + " -verify_return_error 2>&1"),
            Duration.ofSeconds(30));
    assertThat(s.stdout()).contains("Verify return code: 0 (ok)").contains("CN = baton-lab");
  }

  @Test
  void keepAliveAndPipelinedRequestsStayOnTheirConnection() throws Exception {
    CommandResult r =
        farm.curl(
            CURL,
            "-w",
            "[%{num_connects}]",
            farm.url("/whoami.txt"),
            farm.url("/whoami.txt"),
            farm.url("/whoami.txt"));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    String out = r.stdout();
    assertThat(out.split("\\[0\\]", -1))
        .as("two of three requests reused the connection: %s", out)
        .hasSize(3);
    String server = out.substring(0, 3);
    assertThat(out.replace("[1]", "").replace("[0]", "")).isEqualTo(server.repeat(3));

    String pipelined =
        "GET /whoami.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3)
            + "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    String answer = rawExchange(80, pipelined.getBytes(StandardCharsets.US_ASCII));
    assertThat(answer.split("HTTP/1.1 200 OK", -1)).as(answer).hasSize(5);
    assertThat(answer).endsWith("</h1>\n");
  }

  /**
   * A 50 MiB POST sent without waiting for 100-continue: the dispatcher hands the connection off
   * after the head, so almost all of the body reaches the server only after the move — through the
   * forwarding entry — and the echo must still match byte for byte.
   */
  @Test
  void uploadsWithoutExpectArriveWhileTheConnectionMoves() throws Exception {
    long bodyBytes = 50L << 20;
    Path upload = Farm.truncatedCopy(farm.bigFile, farm.lab.dir().resolve("upload.bin"), bodyBytes);
    Path echoed = farm.lab.dir().resolve("echoed.bin");
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long handedOff0 = stats.handedOff.sum();
    long read0 = stats.bytesReadBeforeHandoff.sum();
    long forwarded0 = forwardedFromClientBytes();
    CommandResult r = farm.curl(CURL, Curl.post(upload, echoed, farm.url("/echo")));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(sha256(echoed)).as("50 MiB POST echoed").isEqualTo(sha256(upload));
    assertThat(stats.handedOff.sum() - handedOff0).as("handoffs for the one upload").isEqualTo(1);
    // Before the handoff the client's segments end in d1's own stack; after it d1's kernel
    // forwards them, unchanged (source: the client), over the fabric to the new owner. Bytes
    // counted there are body bytes that crossed after the move.
    long read = stats.bytesReadBeforeHandoff.sum() - read0;
    long forwarded = forwardedFromClientBytes() - forwarded0;
    System.out.printf(
        "upload: d1 read %d bytes before the handoff; %d bytes of client packets were forwarded"
            + " to the server after it%n",
        read, forwarded);
    assertThat(read)
        .as("bytes d1 read before handing the upload off")
        .isPositive()
        .isLessThan(1 << 20);
    assertThat(forwarded)
        .as("bytes of the client's packets d1 forwarded to the server after the handoff")
        .isGreaterThan(bodyBytes / 2);

    CommandResult chunked =
        farm.curl(
            CURL,
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Expect:",
            "--data-binary",
            "@" + farm.webRoots.get("s2").resolve("index.html"),
            farm.url("/echo"));
    assertThat(chunked.stdout()).isEqualTo("<h1>s2</h1>\n");
    CommandResult http10 = farm.curl(CURL, "-0", farm.url("/whoami.txt"));
    assertThat(http10.stdout()).isIn("s2\n", "s3\n");
    Files.delete(upload);
    Files.delete(echoed);
  }

  @Test
  void l4ModeHandsOffWithoutReading() {
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long handedOff0 = stats.handedOff.sum();
    long read0 = stats.bytesReadBeforeHandoff.sum();
    Map<String, Long> accepted0 = acceptedPerServer();
    CommandResult r = farm.curl(CURL, "http://" + Farm.VIP + ":" + Farm.L4_PORT + "/whoami.txt");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).isIn("s2\n", "s3\n");
    String answered = r.stdout().strip();
    assertThat(stats.handedOff.sum() - handedOff0)
        .as("handoffs for one l4 connection")
        .isEqualTo(1);
    assertThat(stats.bytesReadBeforeHandoff.sum() - read0)
        .as("bytes d1 read before an l4 handoff")
        .isZero();
    Map<String, Long> taken = new LinkedHashMap<>();
    acceptedPerServer().forEach((s, n) -> taken.put(s, n - accepted0.get(s)));
    Map<String, Long> expected = new LinkedHashMap<>();
    for (String s : Farm.SERVERS) expected.put(s, s.equals(answered) ? 1L : 0L);
    assertThat(taken).as("handoffs each server took; %s answered", answered).isEqualTo(expected);
  }

  @Test
  void aRefusingServerIsSkippedAndNoServerMeans503() {
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long refusedBefore = stats.refusedByServer.sum();
    for (int i = 0; i < 4; i++) {
      CommandResult r = farm.curl(CURL, "http://" + Farm.VIP + ":8081/whoami.txt");
      assertThat(r.stdout()).as(r.stderr()).isEqualTo("s3\n");
    }
    assertThat(stats.refusedByServer.sum() - refusedBefore)
        .as("s2 refused its turns")
        .isGreaterThanOrEqualTo(2);

    CommandResult ghost =
        farm.curl(CURL, "-H", "X-Pool: ghost", "-w", "%{http_code}", farm.url("/whoami.txt"));
    assertThat(ghost.stdout()).startsWith("503 Service Unavailable").endsWith("503");
  }

  @Test
  void badHeadsGetClearAnswers() throws Exception {
    assertThat(rawExchange(80, "GARBAGE\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
        .startsWith("HTTP/1.1 400 Bad Request");
    String huge = "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + "a".repeat(20_000) + "\r\n\r\n";
    assertThat(rawExchange(80, huge.getBytes(StandardCharsets.US_ASCII)))
        .startsWith("HTTP/1.1 431 Request Header Fields Too Large");
    assertThat(rawExchange(80, "GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII)))
        .as("a head that never completes")
        .startsWith("HTTP/1.1 408 Request Timeout");
    assertThat(
            rawExchange(
                80, "GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII), true))
        .as("a head cut short by the client's FIN: it can still read the answer")
        .startsWith("HTTP/1.1 408 Request Timeout");
  }

  /**
   * A client that resets its connection in the middle of a download: the server's restored socket —
   * found by its inode, held open by this JVM while the download runs — must be closed, its
   * forwarding entry retired, and the JVM's socket count back to where it was.
   */
  @Test
  void aClientThatAbortsMidTransferLeavesNoDescriptorBehind() throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    Set<String> socketsBefore = openSockets();
    int entriesBefore = forwarding.size().get(5, TimeUnit.SECONDS);
    Socket client =
        farm.client.call(
            () -> {
              Socket socket = new Socket();
              socket.connect(new InetSocketAddress(Farm.VIP, Farm.HTTP_PORT), 5000);
              return socket;
            });
    String inode;
    try {
      client.setSoTimeout(20_000);
      client
          .getOutputStream()
          .write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = client.getInputStream();
      byte[] buf = new byte[1 << 16];
      long got = 0;
      while (got < (1 << 20)) {
        int n = in.read(buf);
        assertThat(n).as("bytes of /big.bin after %d", got).isPositive();
        got += n;
      }
      inode = serverSocketInode(client.getLocalPort());
      assertThat(openSockets())
          .as("this JVM holds the server's socket of the download")
          .contains(inode);
      assertThat(forwarding.size().get(5, TimeUnit.SECONDS))
          .as("forwarding entries during the download")
          .isEqualTo(entriesBefore + 1);
      client.setSoLinger(true, 0); // close() now sends an RST: the client aborts
    } finally {
      client.close();
    }
    awaitTrue(
        () -> !openSockets().contains(inode),
        QUIET,
        "the server's socket " + inode + " to be closed");
    awaitTrue(
        () -> forwarding.size().get(5, TimeUnit.SECONDS) == entriesBefore,
        QUIET,
        "the download's forwarding entry to be retired");
    awaitTrue(
        () -> socketsBefore.containsAll(openSockets()),
        QUIET,
        "this JVM's sockets back to the " + socketsBefore.size() + " it held before the download");
  }

  /**
   * The close grace: when the server closes a handed-off connection first, the client's own FIN
   * (and its ACK of the server's FIN) still arrive at the dispatcher afterwards and must be
   * forwarded — reaching the dispatcher's stack they would be answered with an RST. So the server
   * reports the close only once its kernel is done with the socket (here: the client's FIN came,
   * the socket is in TIME_WAIT); until then the entry stays in the owner map, however long the
   * client keeps its half of the connection open. The report moves the entry to the late map, which
   * forwards stragglers (a retransmitted FIN) for {@code close-grace} (unless a SYN reopens the
   * 4-tuple), then lets it go.
   */
  @Test
  void aClosedConnectionsLatePacketsAreForwardedForTheCloseGraceThenNot() throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    var s3 = farm.nodes.get("s3").server();
    int entriesBefore = forwarding.size().get(5, TimeUnit.SECONDS);
    int closingBefore = forwarding.closingSize().get(5, TimeUnit.SECONDS);
    int activeBefore = s3.activeConnections();
    int awaitingBefore = s3.closesAwaitingKernel();
    Socket client =
        farm.client.call(
            () -> {
              Socket socket = new Socket();
              socket.connect(new InetSocketAddress(Farm.VIP, Farm.HTTP_PORT), 5000);
              return socket;
            });
    long closedAtNs;
    try (client) {
      client.setSoTimeout(20_000);
      client
          .getOutputStream()
          .write(
              "GET /whoami.txt HTTP/1.1\r\nHost: s3.example.test\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      // s3 answers and closes: the client reads to the end of the stream (s3's FIN) ...
      String answer = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 200").endsWith("s3\n");
      awaitTrue(() -> s3.activeConnections() == activeBefore, QUIET, "s3 to close the connection");
      // ... but its kernel waits for the client's FIN (FIN_WAIT2): the close is not reported.
      awaitTrue(
          () -> s3.closesAwaitingKernel() == awaitingBefore + 1,
          QUIET,
          "s3 holding the close back for its kernel");
      assertThat(forwarding.size().get(5, TimeUnit.SECONDS))
          .as("entries while s3's kernel waits for the client's FIN")
          .isEqualTo(entriesBefore + 1);
      // The client closes only now: its FIN must still be forwarded to s3 (no RST: checked after
      // the test).
      closedAtNs = System.nanoTime();
    }
    awaitTrue(
        () -> forwarding.size().get(5, TimeUnit.SECONDS) == entriesBefore,
        QUIET,
        "the entry to leave the owner map when s3 reports the close");
    int during = forwarding.closingSize().get(5, TimeUnit.SECONDS);
    long checkedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAtNs);
    assertThat(checkedAfterMs)
        .as("the check ran within the grace")
        .isLessThan(CLOSE_GRACE.toMillis());
    assertThat(during)
        .as(
            "closed connections still forwarded %d ms after the client closed (grace %s)",
            checkedAfterMs, CLOSE_GRACE)
        .isEqualTo(closingBefore + 1);
    assertThat(s3.closesAwaitingKernel()).isEqualTo(awaitingBefore);
    awaitTrue(
        () -> forwarding.closingSize().get(5, TimeUnit.SECONDS) == closingBefore,
        QUIET,
        "the late forwarding to end after the grace");
    long goneAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAtNs);
    // The grace starts when s3's CLOSED arrives, after the client's FIN reached s3.
    assertThat(goneAfterMs)
        .as("ms from the client's close to the end of the late forwarding (grace %s)", CLOSE_GRACE)
        .isGreaterThanOrEqualTo(CLOSE_GRACE.toMillis());
  }

  @Test
  void aForgedFabricFrameIsRefusedAndCounted() throws Exception {
    var s2 = farm.nodes.get("s2").server();
    long before = s2.fabric().authFailures();
    byte[] wrongKey = new byte[32];
    var group =
        farm.d1.call(
            () -> {
              var g =
                  new io.netty.channel.MultiThreadIoEventLoopGroup(
                      1, io.netty.channel.epoll.EpollIoHandler.newFactory());
              g.submit(() -> {})
                  .sync(); // start the loop thread here, so it lives in d1's namespace
              return g;
            });
    try {
      HandoffClient forger =
          new HandoffClient(
              group,
              new InetSocketAddress("198.18.1.12", 7400),
              wrongKey,
              "mallory",
              new HandoffClient.Listener() {},
              Duration.ofSeconds(2));
      try {
        forger.connect();
        awaitTrue(
            () -> s2.fabric().authFailures() > before,
            Duration.ofSeconds(10),
            "s2 counted the forgery");
        assertThat(forger.isConnected()).isFalse();
      } finally {
        forger.close();
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void theDispatcherServesItselfWithoutAHandoffInPeerMode() throws Exception {
    var stats = farm.nodes.get("d1").dispatcher().stats();
    long localBefore = stats.servedLocally.sum();
    long handedOffBefore = stats.handedOff.sum();
    assertThat(body("-H", "X-Pool: local", farm.url("/whoami.txt"))).isEqualTo("d1\n");
    assertThat(body("http://" + Farm.VIP + ":9001/whoami.txt"))
        .as("l4 through the local relay to nginx")
        .isEqualTo("d1\n");
    Path out = farm.lab.dir().resolve("local-big.bin");
    CommandResult r = farm.curl(CURL, "-o", out.toString(), "http://" + Farm.VIP + ":9001/big.bin");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(sha256(out)).isEqualTo(bigSha);
    Files.delete(out);
    assertThat(stats.servedLocally.sum() - localBefore).isEqualTo(3);
    assertThat(stats.handedOff.sum()).as("no handoff for local service").isEqualTo(handedOffBefore);
  }

  @Test
  void theDispatchersMetricsEndpointShowsTheCountersMoving() {
    String before = metrics();
    for (int i = 0; i < 3; i++) assertThat(body(farm.url("/whoami.txt"))).isIn("s2\n", "s3\n");
    CommandResult ghost =
        farm.curl(
            CURL,
            "-H",
            "X-Pool: ghost",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            farm.url("/whoami.txt"));
    assertThat(ghost.stdout()).isEqualTo("503");
    String after = metrics();
    assertThat(after)
        .contains("baton_fabric_up{server=\"s2\"} 1.0")
        .contains("baton_server_connections_active")
        .contains("baton_dispatcher_handoffs_refused")
        .contains("baton_forwarding_entries_installed")
        .contains("baton_server_guard_drops")
        .contains("baton_dispatcher_handoff_stage_seconds{quantile=\"0.99\",stage=\"export\"}");
    String handoffs = "baton_dispatcher_handoffs_total";
    String answered503 = "baton_dispatcher_answered_total{reason=\"503\"}";
    assertThat(sample(after, handoffs) - sample(before, handoffs)).as(handoffs).isEqualTo(3);
    // The histogram counts the same handoffs (the benchmark reads its buckets per interval).
    String histogram = "baton_dispatcher_handoff_seconds_count";
    assertThat(sample(after, histogram) - sample(before, histogram)).as(histogram).isEqualTo(3);
    String within10s = "baton_dispatcher_handoff_seconds_bucket{le=\"10.0\"}";
    assertThat(sample(after, within10s) - sample(before, within10s)).as(within10s).isEqualTo(3);
    assertThat(sample(after, answered503) - sample(before, answered503))
        .as(answered503)
        .isEqualTo(1);
  }

  /**
   * Every test ends with an empty table; this one makes sure that is not because none was added.
   */
  @Test
  void everyHandoffInstallsAnEntryAndItsCloseRemovesIt() throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    long installed0 = forwarding.installedTotal();
    long removed0 = forwarding.removedTotal();
    for (int i = 0; i < 5; i++) assertThat(body(farm.url("/whoami.txt"))).isIn("s2\n", "s3\n");
    awaitTrue(() -> forwarding.removedTotal() - removed0 >= 5, QUIET, "five entries to be removed");
    assertThat(forwarding.installedTotal() - installed0)
        .as("entries installed for five handoffs")
        .isEqualTo(5);
    awaitTrue(
        () -> forwarding.size().get(5, TimeUnit.SECONDS) == 0,
        QUIET,
        "the forwarding table to empty");
  }

  /**
   * A relayed {@code Connection: close} exchange ends on the client's FIN, which acknowledges the
   * relay's own: the connection is in TIME_WAIT when s1's relay closes it, so s1 reports the close
   * at once instead of watching the socket drain. Every entry still leaves the table, and the
   * client gets no RST (both checked after the test).
   */
  @Test
  void relayedCloseModeExchangesAreReportedWithoutWatchingTheKernel() throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    var s1 = farm.nodes.get("s1").server();
    long atOnce0 = s1.closesReportedAtOnce();
    long removed0 = forwarding.removedTotal();
    int n = 10;
    for (int i = 0; i < n; i++) {
      assertThat(body("-H", "Connection: close", farm.url("/static/whoami.txt"))).isEqualTo("s1\n");
    }
    awaitTrue(() -> forwarding.removedTotal() - removed0 >= n, QUIET, n + " entries to go");
    long atOnce = s1.closesReportedAtOnce() - atOnce0;
    System.out.printf("s1 reported %d of %d relayed closes at once%n", atOnce, n);
    assertThat(atOnce).as("closes s1 reported without a drain watch").isPositive();
  }

  @Test
  void handedOffRequestsAreAcknowledgedByTheServersNotTheDispatcher() throws Exception {
    // delay-first-ack (the default): d1 sends each connection's SYN-ACK and nothing else, as long
    // as it hands the connection off within the kernel's delayed-ACK time (40 ms); a cold JVM's
    // first handoffs may not, and then d1 acknowledges as TCP should. Warm first.
    for (int i = 0; i < 20; i++) {
      assertThat(body("-H", "Connection: close", farm.url("/static/whoami.txt"))).isEqualTo("s1\n");
    }
    nft(
        farm.d1,
        """
                table inet bt_d1_acks {
                  counter to_client { }
                  chain output {
                    type filter hook output priority -300; policy accept;
                    ip daddr %s tcp flags & (syn | fin | rst) == 0 counter name to_client
                  }
                }
                """
            .formatted(Farm.CLIENT_IP));
    try {
      int n = 10;
      for (int i = 0; i < n; i++) {
        assertThat(body("-H", "Connection: close", farm.url("/static/whoami.txt")))
            .isEqualTo("s1\n");
        assertThat(
                body(
                    "-H",
                    "Connection: close",
                    "-H",
                    "Host: s3.example.test",
                    farm.url("/whoami.txt")))
            .isEqualTo("s3\n");
      }
      String counter = nft(farm.d1, "list counter inet bt_d1_acks to_client");
      Matcher m = Pattern.compile("packets (\\d+)").matcher(counter);
      assertThat(m.find()).as(counter).isTrue();
      assertThat(Long.parseLong(m.group(1)))
          .as(
              "segments without SYN, FIN or RST d1 sent the client for %d handed-off requests",
              2 * n)
          .isZero();
    } finally {
      nft(farm.d1, "delete table inet bt_d1_acks");
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  private String body(String... args) {
    CommandResult r = farm.curl(CURL, args);
    assertThat(r.exitCode()).as("curl %s: %s", List.of(args), r.stderr()).isZero();
    return r.stdout();
  }

  /** Sends {@code request} from the client namespace on port {@code port}, reads to EOF. */
  private String rawExchange(int port, byte[] request) throws Exception {
    return rawExchange(port, request, false);
  }

  /** With {@code halfClose}, the client sends its FIN after the request and still reads. */
  private String rawExchange(int port, byte[] request, boolean halfClose) throws Exception {
    Socket s =
        farm.client.call(
            () -> {
              Socket socket = new Socket();
              socket.connect(new InetSocketAddress(Farm.VIP, port), 5000);
              return socket;
            });
    try (s) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(request);
      if (halfClose) s.shutdownOutput();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) > 0) got.write(buf, 0, n);
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** Waits until no forwarding entry and no server connection is left from earlier traffic. */
  private void awaitQuiet(String when) throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    awaitTrue(
        () -> forwarding.size().get(5, TimeUnit.SECONDS) == 0,
        QUIET,
        "an empty forwarding table " + when);
    awaitTrue(
        () -> forwarding.closingSize().get(5, TimeUnit.SECONDS) == 0,
        QUIET,
        "the close grace of every closed connection to end " + when);
    for (var node : farm.nodes.values()) {
      var agent = node.server();
      if (agent == null) continue;
      awaitTrue(
          () -> agent.activeConnections() == 0,
          QUIET,
          node.name() + " to have no connection " + when);
    }
  }

  /**
   * Counts, on {@code host}'s fabric interface, the bytes of packets from the client to the VIP:
   * packets d1's kernel forwarded after a handoff. Priority -300 counts them before the server's
   * guard (-150) may drop one that arrives ahead of the restore.
   */
  private static void countForwardedFromClient(Host host) throws Exception {
    nft(
        host,
        """
            table inet bt_forwarded {
              counter from_client { }
              chain prerouting {
                type filter hook prerouting priority -300; policy accept;
                iifname "fabric" ip saddr %s ip daddr %s counter name from_client
              }
            }
            """
            .formatted(Farm.CLIENT_IP, Farm.VIP));
  }

  /** Bytes counted by {@link #countForwardedFromClient} on all servers so far. */
  private long forwardedFromClientBytes() throws Exception {
    long total = 0;
    for (String server : Farm.SERVERS) {
      Matcher m =
          Pattern.compile("bytes (\\d+)")
              .matcher(nft(farm.servers.get(server), "list counter inet bt_forwarded from_client"));
      assertThat(m.find()).as("counter bt_forwarded on %s", server).isTrue();
      total += Long.parseLong(m.group(1));
    }
    return total;
  }

  /** Runs nftables {@code commands} in {@code host}'s namespace; their output. */
  private static String nft(Host host, String commands) throws Exception {
    return host.call(
        () -> {
          try (Nftables nft = Nftables.open()) {
            return nft.run(commands);
          }
        });
  }

  private Map<String, Long> acceptedPerServer() {
    Map<String, Long> accepted = new LinkedHashMap<>();
    for (String s : Farm.SERVERS) accepted.put(s, farm.nodes.get(s).server().acceptedTotal());
    return accepted;
  }

  /**
   * The inode of the one server socket, on any of s1..s3, whose peer is the client's {@code port}.
   */
  private String serverSocketInode(int clientPort) {
    List<String> found = new ArrayList<>();
    for (String s : Farm.SERVERS) {
      CommandResult ss =
          farm.servers.get(s).execOrThrow("ss", "-Htne", "dst", Farm.CLIENT_IP + ":" + clientPort);
      Matcher m = Pattern.compile("ino:(\\d+)").matcher(ss.stdout());
      while (m.find()) found.add("socket:[" + m.group(1) + "]");
    }
    assertThat(found).as("server sockets connected to the client's port %d", clientPort).hasSize(1);
    return found.getFirst();
  }

  private String metrics() {
    CommandResult r =
        farm.d1.exec("curl", "-sS", "--max-time", "10", "http://127.0.0.1:9400/metrics");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r.stdout();
  }

  /**
   * The value of the sample named exactly {@code name} (labels included) in a Prometheus text page.
   */
  private static double sample(String page, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(page);
    assertThat(m.find()).as("%s in %s", name, page).isTrue();
    return Double.parseDouble(m.group(1));
  }
}
