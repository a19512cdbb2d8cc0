package io.baton.lab.wan;

import static io.baton.lab.wan.WanTopology.REMOTE_IP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.sun.net.httpserver.HttpServer;
import io.baton.lab.CommandResult;
import io.baton.lab.InterfaceStats;
import io.baton.lab.Lab;
import io.baton.lab.wan.DelayLine.Counters;
import io.baton.lab.wan.DelayLine.Direction;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The WAN emulator measured against its own settings, each figure within 5 % of the configured one:
 * round-trip time (ping), rate (a UDP blast above the rate), random loss (400,000 datagrams, enough
 * that three binomial standard deviations stay under 5 % of the expected count), order, and a TCP
 * download through a lossy line that arrives byte-exact. One lab for the class; each test sets the
 * link it needs, and reads the line's counters as differences.
 *
 * <p>Every other place a datagram could be dropped is checked to have dropped none (the client's
 * send buffer, the TUN device's queue, the emulated queue where it should not fill, the remote's
 * receive buffer), so that the loss measured end to end is the emulator's alone.
 */
@Tag("lab")
class WanEmulatorLabTest {
  private static final long MBIT = 1_000_000;

  /** IPv4 and UDP headers: a datagram's size on the link is its payload plus these. */
  private static final int IP_UDP_HEADER_BYTES = 28;

  private static final int SINK_PORT = 9000;
  private static final double TOLERANCE = 0.05;

  /** Arrivals per window of the rate's median (about 0.1 s at the rate test's 100 Mbit/s). */
  private static final int RATE_WINDOW = 1_000;

  /**
   * The most one of the sender's pacing turns catches up on, in seconds of its rate. A sender held
   * off the CPU for longer forgoes the rest instead of bursting it into the queues before the line
   * (a JVM-wide pause stops the line's reader too, and a burst then overflows the TUN device's
   * queue: 5,542 send-buffer errors in one run on a loaded host).
   */
  private static final double MAX_CATCH_UP_SECONDS = 0.005;

  /** Silence after the sender finished that ends a receive (well above the delays used). */
  private static final long QUIET_NS = TimeUnit.MILLISECONDS.toNanos(400);

  private static final Pattern PING_TIME =
      Pattern.compile("icmp_seq=\\d+ ttl=\\d+ time=([0-9.]+) ms");

  private static final Pattern PING_SUMMARY =
      Pattern.compile("rtt min/avg/max/mdev = ([\\d.]+)/([\\d.]+)/([\\d.]+)/([\\d.]+) ms");

  private static Lab lab;
  private static WanTopology wan;

  @BeforeAll
  static void buildLab() {
    Lab.sweepStale();
    lab = Lab.create("wan-emulator");
    wan = WanTopology.build(lab, WanLink.of(Duration.ofMillis(1), 100 * MBIT));
    // Resolves the neighbours on every hop, so no test's first packets wait for ARP.
    wan.client().execOrThrow("ping", "-c", "1", "-W", "5", REMOTE_IP);
  }

  @AfterAll
  static void closeLabAndCheckForLeaks() {
    try {
      if (wan != null) {
        assertThat(wan.line().failure()).isEmpty();
        wan.close();
        assertThat(wan.wan().exec("ip", "link", "show", "dev", DelayLine.DEVICE).succeeded())
            .as("the TUN device goes with its descriptor")
            .isFalse();
        assertThat(wan.wan().execOrThrow("ip", "rule", "show").stdout())
            .as("the policy rules")
            .doesNotContain("lookup " + DelayLine.TABLE);
      }
    } finally {
      if (lab != null) lab.close();
    }
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void roundTripTimeIsTwiceTheOneWayDelay() {
    wan.line().setLink(WanLink.of(Duration.ofMillis(25), 100 * MBIT));
    CommandResult ping =
        wan.client().execOrThrow("ping", "-n", "-c", "20", "-i", "0.05", "-W", "2", REMOTE_IP);
    Matcher m = PING_SUMMARY.matcher(ping.stdout());
    assertThat(m.find()).as("ping summary in %s", ping.stdout()).isTrue();
    double[] rtts =
        PING_TIME
            .matcher(ping.stdout())
            .results()
            .mapToDouble(r -> Double.parseDouble(r.group(1)))
            .sorted()
            .toArray();
    assertThat(rtts).as("replies in %s", ping.stdout()).hasSize(20);
    // The median, not the average: one echo the line's thread released late (the host busy for a
    // few ms) moved the average of 20 by 3 ms; it does not move the median.
    double medianMs = rtts[rtts.length / 2];
    System.out.printf(
        "wan: RTT with 25 ms each way: min/avg/max %s/%s/%s ms, median %.3f ms%n",
        m.group(1), m.group(2), m.group(3), medianMs);
    assertThat(medianMs).isCloseTo(50.0, within(50.0 * TOLERANCE));
    assertThat(rtts[0]).as("the fastest echo: never before its delay").isGreaterThanOrEqualTo(50.0);
  }

  @Test
  void aBlastAboveTheRateLeavesAtTheRate() throws Exception {
    long rate = 100 * MBIT;
    wan.line().setLink(WanLink.of(Duration.ofMillis(1), rate));
    int payload = 1200;
    double offeredPps = 1.3 * rate / ((payload + IP_UDP_HEADER_BYTES) * 8.0);
    Counters before = wan.line().counters(Direction.A_TO_B);
    Blast blast = blast(payload, (long) (offeredPps * 2), offeredPps, Duration.ofSeconds(4));
    Counters after = wan.line().counters(Direction.A_TO_B);

    Received r = blast.received();
    double bitsPerDatagram = (payload + IP_UDP_HEADER_BYTES) * 8.0;
    double spanSeconds = (r.lastNs() - r.firstNs()) / 1e9;
    // n datagrams left back to back span n - 1 serialization times.
    double overallBitsPerSecond = (r.datagrams() - 1) * bitsPerDatagram / spanSeconds;
    // The figure asserted is the median over windows of RATE_WINDOW arrivals. A thread held off
    // the CPU for a while (the sink reading late, the line's threads releasing late and then
    // catching up) bends a window or two, and at the blast's edges the overall span; it does not
    // move the median.
    double[] windowRates = r.windowRates(RATE_WINDOW);
    assertThat(windowRates.length).as("windows of %,d datagrams", RATE_WINDOW).isGreaterThan(10);
    double bitsPerSecond = windowRates[windowRates.length / 2] * bitsPerDatagram;
    long queueDropped = after.queueDropped() - before.queueDropped();
    System.out.printf(
        "wan: rate 100 Mbit/s, offered %.1f Mbit/s: %,d of %,d datagrams in %.3f s = %.2f Mbit/s at the IP level"
            + " overall; median over %d windows of %,d datagrams %.2f Mbit/s (slowest %.2f, fastest %.2f);"
            + " emulated queue dropped %,d%n",
        offeredPps * bitsPerDatagram / 1e6,
        r.datagrams(),
        blast.sent(),
        spanSeconds,
        overallBitsPerSecond / 1e6,
        windowRates.length,
        RATE_WINDOW,
        bitsPerSecond / 1e6,
        windowRates[0] * bitsPerDatagram / 1e6,
        windowRates[windowRates.length - 1] * bitsPerDatagram / 1e6,
        queueDropped);
    assertThat(queueDropped).as("the blast overfilled the queue").isPositive();
    assertThat(blast.receiveBufferErrors())
        .as("datagrams the remote's receive buffer dropped")
        .isZero();
    assertThat(r.outOfOrder()).as("datagrams that overtook others").isZero();
    assertThat(bitsPerSecond).isCloseTo(rate, within(rate * TOLERANCE));
  }

  @Test
  void lossIsTheConfiguredShareAndTheLinesOwnCount() throws Exception {
    double loss = 0.01;
    wan.line().setLink(WanLink.of(Duration.ofMillis(1), 1000 * MBIT).withLossProbability(loss));
    // 3 sigma of the binomial (sqrt(n p (1-p)) = 63 for n = 400,000) is 4.7 % of n p = 4,000.
    long count = 400_000;
    Counters before = wan.line().counters(Direction.A_TO_B);
    InterfaceStats tunBefore = wan.wan().interfaceStats(DelayLine.DEVICE);
    // Paced below what the path carries (a client here sends at most about 75,000 a second, and
    // then nothing but the emulator drops either), so no other queue ever fills.
    Blast blast = blast(32, count, 50_000, Duration.ofSeconds(30));
    Counters after = wan.line().counters(Direction.A_TO_B);
    InterfaceStats tunAfter = wan.wan().interfaceStats(DelayLine.DEVICE);

    long missing = blast.sent() - blast.received().datagrams();
    long lineLost = after.lost() - before.lost();
    double measured = (double) missing / blast.sent();
    System.out.printf(
        "wan: loss 1 %%: %,d of %,d datagrams missing = %.4f %%; the line counted %,d lost, %,d in (%s)%n",
        missing,
        blast.sent(),
        measured * 100,
        lineLost,
        after.packetsIn() - before.packetsIn(),
        blast.timing());
    assertThat(blast.sent()).isEqualTo(count);
    assertThat(blast.sendBufferErrors()).as("datagrams the client's send buffer dropped").isZero();
    assertThat(tunAfter.txDropped() - tunBefore.txDropped())
        .as("packets the TUN device's queue dropped")
        .isZero();
    assertThat(after.queueDropped() - before.queueDropped())
        .as("packets the emulated queue dropped")
        .isZero();
    assertThat(blast.receiveBufferErrors())
        .as("datagrams the remote's receive buffer dropped")
        .isZero();
    assertThat(blast.received().outOfOrder()).as("datagrams that overtook others").isZero();
    assertThat(lineLost)
        .as("datagrams missing at the remote vs the line's own count")
        .isEqualTo(missing);
    assertThat(measured).isCloseTo(loss, within(loss * TOLERANCE));
  }

  /** The order check of the other tests can see reordering: with reordering on, it does. */
  @Test
  void reorderingHoldsPacketsBackOnlyWhenAskedTo() throws Exception {
    wan.line()
        .setLink(
            WanLink.of(Duration.ofMillis(1), 100 * MBIT).withReorder(0.05, Duration.ofMillis(3)));
    Blast blast = blast(100, 5_000, 10_000, Duration.ofSeconds(10));
    System.out.printf(
        "wan: reorder 5 %% by 3 ms: %,d of %,d datagrams overtaken%n",
        blast.received().outOfOrder(), blast.received().datagrams());
    assertThat(blast.received().datagrams()).isEqualTo(blast.sent());
    assertThat(blast.received().outOfOrder()).isBetween(100L, 400L);
  }

  @Test
  void aTcpDownloadThroughALossyLineArrivesByteExact() throws Exception {
    wan.line().setLink(WanLink.of(Duration.ofMillis(5), 100 * MBIT).withLossProbability(0.01));
    byte[] blob = new byte[4 << 20];
    new Random(42).nextBytes(blob);
    Counters before = wan.line().counters(Direction.B_TO_A);
    long retransBefore = wan.remote().snmpCounter("Tcp", "RetransSegs");
    HttpServer server =
        wan.remote().call(() -> HttpServer.create(new InetSocketAddress(REMOTE_IP, 0), 0));
    Path file = lab.dir().resolve("blob");
    long startNs = System.nanoTime();
    try {
      server.createContext(
          "/blob",
          exchange -> {
            exchange.sendResponseHeaders(200, blob.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(blob);
            }
          });
      server.start();
      String url = "http://" + REMOTE_IP + ":" + server.getAddress().getPort() + "/blob";
      List<String> curl =
          List.of("curl", "-sS", "--fail", "--max-time", "60", "-o", file.toString(), url);
      wan.client().exec(curl, Duration.ofSeconds(90)).orThrow();
    } finally {
      server.stop(0);
    }
    double seconds = (System.nanoTime() - startNs) / 1e9;
    Counters after = wan.line().counters(Direction.B_TO_A);
    long lost = after.lost() - before.lost();
    long queueDropped = after.queueDropped() - before.queueDropped();
    long retransmitted = wan.remote().snmpCounter("Tcp", "RetransSegs") - retransBefore;
    System.out.printf(
        "wan: 4 MiB over TCP, 5 ms each way, 1 %% loss: %.2f s, %,d packets lost at random, %,d dropped by the"
            + " full queue, %,d segments retransmitted, largest packet on the line %d bytes%n",
        seconds, lost, queueDropped, retransmitted, after.largestPacketBytes());
    assertThat(sha256(Files.readAllBytes(file))).isEqualTo(sha256(blob));
    assertThat(lost).as("packets the line dropped from the download").isPositive();
    assertThat(retransmitted).isPositive();
    // The TUN device has no GSO offloads, so the kernel cuts TSO super-packets before the line.
    assertThat(after.largestPacketBytes()).isLessThanOrEqualTo(1500);
  }

  /** A blast's outcome: what was sent, what arrived, and the drop counters outside the line. */
  private record Blast(
      long sent,
      Received received,
      long sendBufferErrors,
      long receiveBufferErrors,
      String timing) {}

  /**
   * What the sink saw: each datagram's arrival time (nanoTime, in arrival order), and how many
   * overtook others.
   */
  private record Received(long[] arrivalsNs, long outOfOrder) {
    long datagrams() {
      return arrivalsNs.length;
    }

    long firstNs() {
      return arrivalsNs[0];
    }

    long lastNs() {
      return arrivalsNs[arrivalsNs.length - 1];
    }

    /** Datagrams per second in each whole window of {@code window} arrivals, sorted. */
    double[] windowRates(int window) {
      int windows = (arrivalsNs.length - 1) / window;
      double[] rates = new double[windows];
      for (int i = 0; i < windows; i++) {
        long spanNs = arrivalsNs[(i + 1) * window] - arrivalsNs[i * window];
        rates[i] = window / (Math.max(1, spanNs) / 1e9);
      }
      Arrays.sort(rates);
      return rates;
    }
  }

  /**
   * Sends {@code count} datagrams of {@code payload} bytes from the client to the remote at {@code
   * packetsPerSecond}, each carrying its sequence number, and receives them there until the line
   * has been quiet for a while after the last one; bounded by {@code maxTime}.
   */
  private static Blast blast(int payload, long count, double packetsPerSecond, Duration maxTime)
      throws Exception {
    long deadlineNs = System.nanoTime() + maxTime.toNanos();
    long sndbufErrors = wan.client().snmpCounter("Udp", "SndbufErrors");
    long rcvbufErrors = wan.remote().snmpCounter("Udp", "RcvbufErrors");
    AtomicBoolean sendingDone = new AtomicBoolean();
    try (DatagramSocket sink = wan.remote().call(WanEmulatorLabTest::openSink);
        DatagramChannel source = wan.client().call(WanEmulatorLabTest::openSource)) {
      Future<Received> receiving =
          wan.remote().executor().submit(() -> receive(sink, count, sendingDone, deadlineNs));
      long startNs = System.nanoTime();
      long sent;
      try {
        sent =
            wan.client()
                .executor()
                .submit(() -> send(source, payload, count, packetsPerSecond, deadlineNs))
                .get();
      } finally {
        sendingDone.set(true);
      }
      long sentNs = System.nanoTime();
      Received received = receiving.get();
      String timing =
          String.format(
              "sent in %.2f s, received until %.2f s",
              (sentNs - startNs) / 1e9, (System.nanoTime() - startNs) / 1e9);
      return new Blast(
          sent,
          received,
          wan.client().snmpCounter("Udp", "SndbufErrors") - sndbufErrors,
          wan.remote().snmpCounter("Udp", "RcvbufErrors") - rcvbufErrors,
          timing);
    }
  }

  // On the remote's thread, so the socket lives in its namespace.
  private static DatagramSocket openSink() throws Exception {
    DatagramSocket socket = new DatagramSocket(null);
    // The kernel caps this at net.core.rmem_max (4 MiB here), seconds of any blast these tests
    // send.
    socket.setReceiveBufferSize(16 << 20);
    socket.bind(new InetSocketAddress(REMOTE_IP, SINK_PORT));
    socket.setSoTimeout(50);
    return socket;
  }

  // On the client's thread, so the socket lives in its namespace.
  private static DatagramChannel openSource() throws Exception {
    DatagramChannel channel = DatagramChannel.open();
    channel.connect(new InetSocketAddress(REMOTE_IP, SINK_PORT));
    return channel;
  }

  private static long send(
      DatagramChannel channel, int payload, long count, double packetsPerSecond, long deadlineNs)
      throws Exception {
    ByteBuffer datagram = ByteBuffer.allocate(payload);
    long startNs = System.nanoTime();
    long maxCatchUp = Math.max(8, (long) (packetsPerSecond * MAX_CATCH_UP_SECONDS));
    long forgone = 0; // what the schedule gave up after the sender was held off the CPU
    long sent = 0;
    while (sent < count && System.nanoTime() - deadlineNs < 0) {
      long scheduled = 1 + (long) ((System.nanoTime() - startNs) * packetsPerSecond / 1e9);
      forgone = Math.max(forgone, scheduled - sent - maxCatchUp);
      long due = Math.min(count, scheduled - forgone);
      for (; sent < due; sent++) {
        datagram.clear();
        datagram.putLong(0, sent);
        channel.write(datagram);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // pacing: the next burst is due then
    }
    return sent;
  }

  private static Received receive(
      DatagramSocket socket, long expected, AtomicBoolean sendingDone, long deadlineNs)
      throws Exception {
    DatagramPacket packet = new DatagramPacket(new byte[2048], 2048);
    long[] arrivalsNs = new long[Math.toIntExact(expected)];
    long datagrams = 0;
    long lastNs = System.nanoTime();
    long highest = -1;
    long outOfOrder = 0;
    long doneSinceNs = 0;
    while (datagrams < expected && System.nanoTime() - deadlineNs < 0) {
      try {
        socket.receive(packet);
      } catch (SocketTimeoutException e) {
        if (!sendingDone.get()) continue;
        long nowNs = System.nanoTime();
        if (doneSinceNs == 0) doneSinceNs = nowNs;
        if (nowNs - Math.max(lastNs, doneSinceNs) > QUIET_NS) break;
        continue;
      }
      long nowNs = System.nanoTime();
      long sequence = ByteBuffer.wrap(packet.getData(), 0, packet.getLength()).getLong(0);
      arrivalsNs[(int) datagrams] = nowNs;
      lastNs = nowNs;
      datagrams++;
      if (sequence < highest) outOfOrder++;
      highest = Math.max(highest, sequence);
    }
    return new Received(Arrays.copyOf(arrivalsNs, (int) datagrams), outOfOrder);
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
