package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.awaitTrue;
import static io.baton.cli.farm.FarmChecks.openSockets;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dispatcher.DispatcherStats;
import io.baton.lab.CommandResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The dispatcher's limits in a lab farm with real clients (curl and raw sockets in the client
 * namespace): long request targets and large heads are handed off, oversized heads and heads with
 * too many fields get 431, the head timer runs from accept, and floods of slow or silent
 * connections (slowloris, idle connects) are held to the pending caps while other clients are still
 * served. Each test is independent of the others: it waits for the dispatcher's first-request phase
 * to be empty before it starts and closes every socket it opened.
 *
 * <p>The caps are set low in d1's config so that a few thousand sockets reach them: 1500 pending
 * connections in total, 100 per client IP; first byte and whole head within 3 s of accept (equal,
 * so that every flooding connection holds its place for the same time).
 */
@Tag("lab")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FarmLimitsLabTest {
  private static final Duration CURL = Duration.ofSeconds(20);
  private static final int MAX_PENDING = 1500;
  private static final int MAX_PENDING_PER_CLIENT = 100;
  private static final Duration FIRST_BYTE = Duration.ofSeconds(3);
  private static final Duration HEAD = Duration.ofSeconds(3);

  /** A second client address: the well-behaved client while others flood. */
  private static final String OTHER_CLIENT_IP = "198.18.0.20";

  /** Flooding addresses 198.18.0.30 .. 198.18.0.59, each under the per-client cap. */
  private static final int FLOOD_FIRST_OCTET = 30;

  private static final int FLOOD_ADDRESSES = 30;
  private static final String PARTIAL_HEAD = "GET /whoami.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ";

  private Farm farm;
  private DispatcherStats stats;

  @BeforeAll
  void startFarm() throws Exception {
    farm =
        Farm.start(
            "limits",
            Map.of(
                "d1",
                """
        timeouts:
          first-byte: %dms
          head: %dms
        limits:
          max-pending-connections: %d
          max-pending-per-client: %d
        """
                    .formatted(
                        FIRST_BYTE.toMillis(),
                        HEAD.toMillis(),
                        MAX_PENDING,
                        MAX_PENDING_PER_CLIENT)));
    stats = farm.nodes.get("d1").dispatcher().stats();
    farm.client.addAddress("front", OTHER_CLIENT_IP + "/24");
    for (int i = 0; i < FLOOD_ADDRESSES; i++) {
      farm.client.addAddress("front", floodAddress(i) + "/24");
    }
  }

  @AfterAll
  void stopFarm() {
    if (farm != null) farm.close();
  }

  @BeforeEach
  void firstRequestPhaseIsEmpty() throws Exception {
    awaitTrue(
        () -> stats.firstRequestPhase.sum() == 0,
        Duration.ofSeconds(15),
        "no connection in the first-request phase");
  }

  // ------------------------------------------------------------------ long and large heads

  @Test
  void aSixThousandCharacterUrlIsHandedOffAndAnswered() throws Exception {
    long handedOff = stats.handedOff.sum();
    // /static/ goes to nginx on s1 (through the relay), whose request line limit is 8 KiB; the
    // sample app on s2/s3 answers 414 to request lines over 4 KiB.
    String url = farm.url("/static/whoami.txt?q=" + "a".repeat(6_000));
    CommandResult r = farm.curl(CURL, "-w", "%{http_code}", url);
    assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
    assertThat(r.stdout()).isEqualTo("s1\n200");
    awaitHandoffs(handedOff + 1);
  }

  @Test
  void aHeadNearTheSixteenKibLimitIsHandedOffAndATwentyKibHeadGets431() throws Exception {
    long handedOff = stats.handedOff.sum();
    // 15.3 KiB: two 7000-byte fields (nginx takes header lines up to 8 KiB).
    CommandResult near =
        farm.curl(
            CURL,
            "-w",
            "%{http_code}",
            "-H",
            "X-Fill-1: " + "b".repeat(7_000),
            "-H",
            "X-Fill-2: " + "c".repeat(7_000),
            farm.url("/static/whoami.txt?q=" + "d".repeat(1_500)));
    assertThat(near.exitCode()).as("curl: %s", near.stderr()).isZero();
    assertThat(near.stdout()).isEqualTo("s1\n200");
    awaitHandoffs(handedOff + 1);

    long answered431 = stats.answered431.sum();
    CommandResult tooLarge =
        farm.curl(
            CURL,
            "-w",
            "%{http_code}",
            "-H",
            "X-Fill: " + "e".repeat(20 * 1024),
            farm.url("/whoami.txt"));
    assertThat(tooLarge.stdout())
        .as(tooLarge.stderr())
        .startsWith("431 Request Header Fields Too Large")
        .endsWith("431");
    assertThat(stats.answered431.sum()).isEqualTo(answered431 + 1);
    assertThat(stats.handedOff.sum()).as("no handoff for the 431").isEqualTo(handedOff + 1);
  }

  @Test
  void aOneMibHeadIsHandedOffWhenTheLimitAllowsIt() throws Exception {
    try (Farm big =
        Farm.start(
            "bighead",
            Map.of(
                "d1",
                """
        limits:
          max-head-bytes: 1048576
        """))) {
      DispatcherStats bigStats = big.nodes.get("d1").dispatcher().stats();
      long handedOff = bigStats.handedOff.sum();
      // 90 fields of 11,500 bytes: 1,035,000 bytes, under both the byte and the field limit.
      StringBuilder head = new StringBuilder("GET /static/whoami.txt HTTP/1.1\r\nHost: x\r\n");
      for (int i = 0; i < 90; i++)
        head.append("X-Fill-").append(i).append(": ").append("f".repeat(11_500)).append("\r\n");
      head.append("Connection: close\r\n\r\n");
      byte[] request = head.toString().getBytes(StandardCharsets.US_ASCII);
      assertThat(request.length).isBetween(1_000_000, 1_048_576);

      Socket s =
          big.client.call(
              () -> {
                Socket socket = new Socket();
                socket.connect(new InetSocketAddress(Farm.VIP, Farm.HTTP_PORT), 5000);
                return socket;
              });
      String answer;
      try (s) {
        s.setSoTimeout(20_000);
        s.getOutputStream().write(request);
        answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      }
      // nginx on s1 answers: its own header buffers are 4 x 8 KiB. The dispatcher would have
      // answered 431 (over its limit) or 503 (a failed handoff) itself.
      System.out.printf("1 MiB head: %s%n", answer.lines().findFirst().orElse("(nothing)"));
      assertThat(answer).startsWith("HTTP/1.1 400").contains("Server: nginx");
      // The client can have its answer before the dispatcher has read the server's ACCEPTED.
      awaitTrue(
          () -> bigStats.handedOff.sum() > handedOff,
          Duration.ofSeconds(5),
          "the handoff to be counted");
      assertThat(bigStats.handedOff.sum()).as("handoffs").isEqualTo(handedOff + 1);
      assertThat(bigStats.answered431.sum() + bigStats.answered503.sum()).isZero();
    }
  }

  @Test
  void moreThanAHundredHeaderFieldsGet431() {
    long byCount = stats.answered431HeaderCount.sum();
    List<String> args = new ArrayList<>(List.of("-w", "%{http_code}"));
    for (int i = 0; i < 100; i++) args.addAll(List.of("-H", "X-F" + i + ": v"));
    args.add(farm.url("/whoami.txt"));
    // Host, User-Agent, Accept and 100 more: 103 fields.
    CommandResult r = farm.curl(CURL, args.toArray(String[]::new));
    assertThat(r.stdout())
        .as(r.stderr())
        .startsWith("431 Request Header Fields Too Large")
        .endsWith("431");
    assertThat(stats.answered431HeaderCount.sum()).isEqualTo(byCount + 1);

    args.subList(2, 2 + 2 * 10).clear(); // 93 fields
    CommandResult ok = farm.curl(CURL, args.toArray(String[]::new));
    assertThat(ok.stdout()).as(ok.stderr()).matches("s[23]\n200");
  }

  @Test
  void a503NamesNoPoolAndNoServer() {
    // The "ghost" pool's only member, s4, does not exist: the dispatcher answers 503 itself.
    CommandResult r =
        farm.curl(CURL, "-H", "X-Pool: ghost", "-w", "%{http_code}", farm.url("/whoami.txt"));
    assertThat(r.stdout())
        .as(r.stderr())
        .isEqualTo(
            "503 Service Unavailable: no server can take this request now; try again later\n503")
        .doesNotContain("ghost")
        .doesNotContain("s4");
  }

  // ------------------------------------------------------------------ timers and caps

  @Test
  void theHeadTimerRunsFromAcceptNotFromTheFirstByte() throws Exception {
    long answered408 = stats.answered408.sum();
    try (Socket s = connect(Farm.CLIENT_IP)) {
      long acceptedNs = System.nanoTime();
      s.setSoTimeout(100);
      InputStream in = s.getInputStream();
      // First byte just inside first-byte (2.7 s), then one byte every 100 ms: with a head timer
      // started by the first byte the answer would come at 2.7 s + 3 s.
      long firstByteAtNs = acceptedNs + FIRST_BYTE.toNanos() * 9 / 10;
      awaitTrue(() -> System.nanoTime() >= firstByteAtNs, FIRST_BYTE, "the first byte's time");
      String trickle = "GET /" + "a".repeat(200);
      long answeredNs = 0;
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      for (int i = 0; i < trickle.length() && answeredNs == 0; i++) {
        try {
          s.getOutputStream().write(trickle.charAt(i));
        } catch (IOException e) {
          break; // the dispatcher answered and shut down; the loop below reads the answer
        }
        try {
          int n = in.read();
          if (n >= 0) {
            answeredNs = System.nanoTime();
            got.write(n);
          }
        } catch (SocketTimeoutException e) {
          // nothing yet: the 100 ms between trickled bytes
        }
      }
      s.setSoTimeout(5000);
      got.write(in.readAllBytes());
      if (answeredNs == 0) answeredNs = System.nanoTime();
      double seconds = (answeredNs - acceptedNs) / 1e9;
      System.out.printf(
          "408 for a trickling head %.2f s after accept (first byte at %.1f s)%n",
          seconds, (firstByteAtNs - acceptedNs) / 1e9);
      assertThat(got.toString(StandardCharsets.ISO_8859_1))
          .startsWith("HTTP/1.1 408 Request Timeout");
      assertThat(seconds)
          .as("408 after %.2f s from accept (head timeout %s)", seconds, HEAD)
          .isBetween(HEAD.toMillis() / 1000.0 - 0.05, HEAD.toMillis() / 1000.0 + 0.6);
    }
    assertThat(stats.answered408.sum()).isEqualTo(answered408 + 1);
  }

  @Test
  void oneAddressFloodingSlowAndIdleConnectionsIsHeldToItsCapWhileOthersAreServed()
      throws Exception {
    long baseline = openSockets().size();
    long perClient = stats.refusedPendingPerClient.sum();
    long total = stats.refusedPendingTotal.sum();
    long accepted = stats.accepted.sum();
    List<Socket> flood = new ArrayList<>();
    try {
      long startNs = System.nanoTime();
      int slow = open(flood, List.of(Farm.CLIENT_IP), 1000, true);
      int idle = open(flood, List.of(Farm.CLIENT_IP), 2000, false);
      double openSeconds = (System.nanoTime() - startNs) / 1e9;
      System.out.printf(
          "flood from one address: %d slowloris + %d idle sockets opened in %.2f s%n",
          slow, idle, openSeconds);
      assertThat(slow + idle).as("connections opened").isGreaterThanOrEqualTo(2900);
      awaitTrue(
          () -> stats.accepted.sum() - accepted >= slow + idle,
          Duration.ofSeconds(10),
          "the dispatcher to accept every connection");

      // Another client is served while the flood's sockets are open, without waiting for them.
      for (int i = 0; i < 5; i++) {
        CommandResult r =
            farm.curl(
                CURL,
                "--interface",
                OTHER_CLIENT_IP,
                "-w",
                " %{http_code} %{time_total}",
                farm.url("/whoami.txt"));
        assertThat(r.exitCode()).as("curl from %s: %s", OTHER_CLIENT_IP, r.stderr()).isZero();
        String[] parts = r.stdout().trim().split(" ");
        assertThat(parts[1]).isEqualTo("200");
        assertThat(Double.parseDouble(parts[2]))
            .as("seconds to serve the other client")
            .isLessThan(1.0);
      }
      long refused = stats.refusedPendingPerClient.sum() - perClient;
      System.out.printf("refused by the per-client cap: %d of %d%n", refused, slow + idle);
      // A place is freed at the earliest a first-byte timeout after its accept, so at most 100
      // per started timeout period of opening were admitted.
      long admittedAtMost =
          MAX_PENDING_PER_CLIENT * (1 + (long) Math.ceil(openSeconds / FIRST_BYTE.toSeconds()));
      assertThat(refused)
          .as("refused by the per-client cap")
          .isGreaterThanOrEqualTo(slow + idle - admittedAtMost);
      assertThat(stats.refusedPendingTotal.sum())
          .as("the total cap was never reached")
          .isEqualTo(total);
    } finally {
      closeAll(flood);
    }
    awaitTrue(
        () -> stats.firstRequestPhase.sum() == 0,
        HEAD.plusSeconds(5),
        "the first-request phase to empty");
    awaitTrue(
        () -> openSockets().size() <= baseline,
        Duration.ofSeconds(20),
        "open sockets back to the baseline of " + baseline);
  }

  @Test
  void manyAddressesFloodingReachTheTotalCapAndTheHeadTimerFreesItForOthers() throws Exception {
    long baseline = openSockets().size();
    long perClient = stats.refusedPendingPerClient.sum();
    long total = stats.refusedPendingTotal.sum();
    long closedSlow = stats.closedSlow.sum();
    long answered408 = stats.answered408.sum();
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < FLOOD_ADDRESSES; i++) addresses.add(floodAddress(i));
    List<Socket> flood = new ArrayList<>();
    try {
      long startNs = System.nanoTime();
      // 100 per address, exactly the per-client cap: only the total cap refuses.
      int slow = open(flood, addresses.subList(0, 10), 1000, true);
      int idle = open(flood, addresses.subList(10, 30), 2000, false);
      long floodDoneNs = System.nanoTime();
      System.out.printf(
          "flood from %d addresses: %d slowloris + %d idle sockets opened in %.2f s%n",
          addresses.size(), slow, idle, (floodDoneNs - startNs) / 1e9);
      assertThat(slow + idle).as("connections opened").isGreaterThanOrEqualTo(2900);
      awaitTrue(
          () -> stats.refusedPendingTotal.sum() > total,
          Duration.ofSeconds(10),
          "refusals by the total cap");
      assertThat(stats.firstRequestPhase.sum())
          .as("connections in the first-request phase")
          .isLessThanOrEqualTo(MAX_PENDING);

      // The other client is served at the latest once the head timer (from accept) has freed the
      // places of the flood's connections: within the head timeout of the flood's last accept.
      CommandResult served = null;
      long deadlineNs = floodDoneNs + HEAD.toNanos() + Duration.ofMillis(1500).toNanos();
      int attempts = 0;
      while (System.nanoTime() < deadlineNs) {
        attempts++;
        CommandResult r =
            farm.curl(
                Duration.ofSeconds(5), "--interface", OTHER_CLIENT_IP, farm.url("/whoami.txt"));
        if (r.exitCode() == 0) {
          served = r;
          break;
        }
        Thread.sleep(50); // polling interval of a deadline-bounded retry
      }
      double servedAfter = (System.nanoTime() - floodDoneNs) / 1e9;
      System.out.printf(
          "other client served %.2f s after the flood was open (%.2f s after it began),"
              + " attempt %d; refused by the total cap: %d%n",
          servedAfter,
          (System.nanoTime() - startNs) / 1e9,
          attempts,
          stats.refusedPendingTotal.sum() - total);
      assertThat(served)
          .as("the other client served within head timeout + 1.5 s of the flood")
          .isNotNull();
      assertThat(served.stdout()).isIn("s2\n", "s3\n");
      assertThat(stats.refusedPendingTotal.sum() - total)
          .as("refused by the total cap")
          .isGreaterThanOrEqualTo(500);
      assertThat(stats.refusedPendingPerClient.sum())
          .as("no address over its own cap")
          .isEqualTo(perClient);
      awaitTrue(
          () -> stats.firstRequestPhase.sum() == 0,
          HEAD.plusSeconds(5),
          "the first-request phase to empty");
      assertThat(stats.closedSlow.sum() - closedSlow)
          .as("idle connections closed at first-byte")
          .isPositive();
      assertThat(stats.answered408.sum() - answered408)
          .as("slowloris answered 408 at head")
          .isPositive();
    } finally {
      closeAll(flood);
    }
    awaitTrue(
        () -> openSockets().size() <= baseline,
        Duration.ofSeconds(20),
        "open sockets back to the baseline of " + baseline);
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Waits until the dispatcher has counted {@code expected} handoffs (the client can have its
   * answer before the dispatcher has read the server's ACCEPTED) and checks it did not count more.
   */
  private void awaitHandoffs(long expected) throws Exception {
    awaitTrue(
        () -> stats.handedOff.sum() >= expected, Duration.ofSeconds(5), expected + " handoffs");
    assertThat(stats.handedOff.sum()).as("handoffs").isEqualTo(expected);
  }

  private static String floodAddress(int i) {
    return "198.18.0." + (FLOOD_FIRST_OCTET + i);
  }

  /** A blocking socket from {@code sourceIp} in the client namespace, connected to the VIP:80. */
  private Socket connect(String sourceIp) throws Exception {
    return farm.client.call(
        () -> {
          Socket socket = new Socket();
          try {
            socket.bind(new InetSocketAddress(sourceIp, 0));
            socket.connect(new InetSocketAddress(Farm.VIP, Farm.HTTP_PORT), 5000);
            return socket;
          } catch (IOException e) {
            socket.close();
            throw e;
          }
        });
  }

  /**
   * Opens {@code count} connections spread evenly over {@code sources}; each slow one sends a
   * partial head and then nothing, an idle one sends nothing. Returns how many connected (a refused
   * connection may be closed by the dispatcher before its partial head is written; that still
   * counts as connected). Every socket is added to {@code into}, to be closed by the caller.
   */
  private int open(List<Socket> into, List<String> sources, int count, boolean slow)
      throws Exception {
    return farm.client.call(
        () -> {
          int connected = 0;
          byte[] partial = PARTIAL_HEAD.getBytes(StandardCharsets.US_ASCII);
          for (int i = 0; i < count; i++) {
            Socket socket = new Socket();
            into.add(socket);
            try {
              socket.bind(new InetSocketAddress(sources.get(i % sources.size()), 0));
              socket.connect(new InetSocketAddress(Farm.VIP, Farm.HTTP_PORT), 5000);
              connected++;
              if (slow) socket.getOutputStream().write(partial);
            } catch (IOException e) {
              // refused at accept before the write, or the connect itself timed out: counted above
            }
          }
          return connected;
        });
  }

  private static void closeAll(List<Socket> sockets) {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException e) {
        // closing is all we want
      }
    }
  }
}
