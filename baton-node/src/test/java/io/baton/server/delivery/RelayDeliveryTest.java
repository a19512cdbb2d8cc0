package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The relay over loopback: restored-looking sockets relayed to java.net upstream servers. */
class RelayDeliveryTest {
  private static final int MIB = 1024 * 1024;
  private static final Duration IDLE = Duration.ofSeconds(60);
  private static final Duration SHORT_IDLE = Duration.ofMillis(800);
  private static EventLoopGroup group;

  @BeforeAll
  static void startLoops() {
    group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
  }

  @AfterAll
  static void stopLoops() {
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void relays20MiBEachWayByteExactWithTheTailFirstAndCountsBytes() throws Exception {
    byte[] request = "REQUEST-HEAD\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] tail = "UNSENT-TAIL:".getBytes(StandardCharsets.US_ASCII);
    long body = 20L * MIB;
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo);
        RestoredSocket conn = RestoredSocket.open("echo 20 MiB")) {
      conn.client.getOutputStream().write(request); // waits in the queue like a replayed request
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), tail, closed);

      Sha256 sent = new Sha256().update(tail).update(request);
      CompletableFuture<Void> writer = writeRandom(conn.client, body, 7, sent);
      Sha256 received = new Sha256();
      byte[] head = readAll(conn.client.getInputStream(), received, tail.length);

      writer.get(30, TimeUnit.SECONDS);
      assertThat(head).isEqualTo(tail);
      assertThat(received.bytes()).isEqualTo(tail.length + request.length + body);
      assertThat(received.hex()).isEqualTo(sent.hex());
      assertThat(upstream.served.get(30, TimeUnit.SECONDS)).isEqualTo(request.length + body);
      RecordingCloseListener.Counts counts = closed.await();
      assertThat(counts.fromClient()).isEqualTo(request.length + body);
      assertThat(counts.toClient()).isEqualTo(tail.length + request.length + body);
    }
  }

  @Test
  void tailGoesOutBeforeAnUpstreamThatSpeaksFirst() throws Exception {
    byte[] tail = new byte[256 * 1024];
    new Random(3).nextBytes(tail);
    try (TestUpstream upstream = new TestUpstream(TestUpstream.saysFirst("GREETING"));
        RestoredSocket conn = RestoredSocket.open("greeter")) {
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), tail, closed);

      ByteArrayOutputStream got = new ByteArrayOutputStream();
      conn.client.getInputStream().transferTo(got); // until the relayed FIN
      conn.client.shutdownOutput();

      byte[] expected = concat(tail, "GREETING".getBytes(StandardCharsets.US_ASCII));
      assertThat(got.toByteArray()).isEqualTo(expected);
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(0, expected.length));
    }
  }

  @Test
  void aRelayEndingOnTheClientsFinAfterItsOwnWasAcknowledgedTellsTheKernelIsDone()
      throws Exception {
    // Connection: close as clients do it: the answer and the relayed FIN first, the client's FIN
    // (acknowledging the relay's) last. The connection is in TIME_WAIT when the relay closes.
    try (TestUpstream upstream = new TestUpstream(TestUpstream.saysFirst("ANSWER"));
        RestoredSocket conn = RestoredSocket.open("close after the answer")) {
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), new byte[0], closed);

      assertThat(conn.client.getInputStream().readAllBytes())
          .isEqualTo("ANSWER".getBytes(StandardCharsets.US_ASCII));
      conn.client.shutdownOutput();

      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(0, 6));
      assertThat(closed.kernelDone).as("kernel done at the relay's close").isTrue();
    }
  }

  @Test
  void aRelayClosedBeforeTheClientsFinSaysTheKernelIsNotDone() throws Exception {
    // The upstream answers and closes, the client reads it all but keeps its half open: the relay
    // ends at its idle timeout with the connection in FIN_WAIT2, which must be watched to its end.
    try (TestUpstream upstream = new TestUpstream(TestUpstream.saysFirst("ANSWER"));
        RestoredSocket conn = RestoredSocket.open("client keeps its half open")) {
      RelayDelivery relay = new RelayDelivery(group, upstream.address(), SHORT_IDLE);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(relay, new byte[0], closed);

      assertThat(conn.client.getInputStream().readAllBytes())
          .isEqualTo("ANSWER".getBytes(StandardCharsets.US_ASCII));

      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(0, 6));
      assertThat(relay.idleTimeouts()).isEqualTo(1);
      assertThat(closed.kernelDone).as("kernel done at the relay's close").isFalse();
    }
  }

  @Test
  void clientFinReachesUpstreamWhileTheAnswerStillFlows() throws Exception {
    // The upstream answers only after it has seen end of stream: the client's FIN must travel.
    byte[] answer = new byte[3 * MIB];
    new Random(11).nextBytes(answer);
    try (TestUpstream upstream =
            new TestUpstream(
                s -> {
                  long read = s.getInputStream().transferTo(OutputStream.nullOutputStream());
                  s.getOutputStream().write(answer);
                  return read;
                });
        RestoredSocket conn = RestoredSocket.open("client half-close")) {
      conn.client.getOutputStream().write(new byte[1000]);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), new byte[0], closed);
      conn.client.getOutputStream().write(new byte[500]);
      conn.client.shutdownOutput();

      assertThat(conn.client.getInputStream().readAllBytes()).isEqualTo(answer);
      assertThat(upstream.served.get(30, TimeUnit.SECONDS)).isEqualTo(1500);
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(1500, answer.length));
    }
  }

  @Test
  void finQueuedBeforeDeliveryReachesUpstreamAndTheWholeAnswerComesBack() throws Exception {
    // As after moving a half-closed connection: request and FIN wait in the socket already.
    byte[] request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] answer = new byte[8 * MIB];
    new Random(12).nextBytes(answer);
    try (TestUpstream upstream =
            new TestUpstream(
                s -> {
                  long read = s.getInputStream().transferTo(OutputStream.nullOutputStream());
                  s.getOutputStream().write(answer);
                  return read;
                });
        RestoredSocket conn = RestoredSocket.open("request then FIN")) {
      conn.client.getOutputStream().write(request);
      conn.client.shutdownOutput();
      EmbeddedDeliveryTest.awaitCloseWait(conn.fd);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), new byte[0], closed);

      Sha256 expected = new Sha256().update(answer);
      Sha256 received = new Sha256();
      readAll(conn.client.getInputStream(), received, 0);
      assertThat(received.bytes()).isEqualTo(answer.length);
      assertThat(received.hex()).isEqualTo(expected.hex());
      assertThat(upstream.served.get(30, TimeUnit.SECONDS)).isEqualTo(request.length);
      assertThat(closed.await())
          .isEqualTo(new RecordingCloseListener.Counts(request.length, answer.length));
    }
  }

  @Test
  void idleRelayIsClosedWithAFinAndCounted() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo);
        RestoredSocket conn = RestoredSocket.open("idle")) {
      RelayDelivery relay = new RelayDelivery(group, upstream.address(), SHORT_IDLE);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
      conn.deliverTo(relay, new byte[0], closed);
      assertThat(conn.client.getInputStream().readNBytes(4))
          .isEqualTo("ping".getBytes(StandardCharsets.US_ASCII));
      long idleFrom = System.nanoTime();

      // Nothing moves now: the relay closes both sides; the client reads end of stream, no reset.
      assertThat(conn.client.getInputStream().read()).as("end of stream").isEqualTo(-1);
      long closedAfterMs = (System.nanoTime() - idleFrom) / 1_000_000;
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(4, 4));
      assertThat(relay.idleTimeouts()).isEqualTo(1);
      assertThat(upstream.served.get(30, TimeUnit.SECONDS)).as("upstream saw EOF").isEqualTo(4);
      assertThat(closedAfterMs)
          .as("closed after the idle timeout, not before")
          .isGreaterThanOrEqualTo(SHORT_IDLE.toMillis() - 50);
    }
  }

  @Test
  void busyRelayOutlivesManyIdleTimeouts() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo);
        RestoredSocket conn = RestoredSocket.open("busy")) {
      RelayDelivery relay = new RelayDelivery(group, upstream.address(), SHORT_IDLE);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(relay, new byte[0], closed);
      long start = System.nanoTime();
      int rounds = 0;
      // One byte each way every 100 ms, 16 times: two idle timeouts in all, never idle that long.
      while (rounds < 16) {
        conn.client.getOutputStream().write(rounds);
        assertThat(conn.client.getInputStream().read()).isEqualTo(rounds & 0xff);
        rounds++;
        Thread.sleep(100); // the traffic's pace, not a synchronisation
      }
      assertThat(System.nanoTime() - start).isGreaterThan(2 * SHORT_IDLE.toNanos());
      assertThat(relay.idleTimeouts()).isZero();
      assertThat(closed.calls.get()).isZero();
      conn.client.shutdownOutput();
      assertThat(conn.client.getInputStream().read()).isEqualTo(-1);
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(rounds, rounds));
      assertThat(relay.idleTimeouts()).isZero();
    }
  }

  @Test
  void upstreamFinReachesClientWhichKeepsSending() throws Exception {
    // The upstream says its piece and shuts its output, then keeps reading until the client's FIN.
    try (TestUpstream upstream = new TestUpstream(TestUpstream.saysFirst("BYE"));
        RestoredSocket conn = RestoredSocket.open("upstream half-close")) {
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), new byte[0], closed);

      assertThat(conn.client.getInputStream().readAllBytes())
          .isEqualTo("BYE".getBytes(StandardCharsets.US_ASCII));
      // Half-open: the client may still send after the upstream's FIN.
      conn.client.getOutputStream().write(new byte[2 * MIB]);
      conn.client.shutdownOutput();

      assertThat(upstream.served.get(30, TimeUnit.SECONDS)).isEqualTo(2L * MIB);
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(2L * MIB, 3));
    }
  }

  @Test
  void refusedUpstreamClosesTheClientAndReportsOnce() throws Exception {
    InetSocketAddress nobody = refusingAddress();
    try (RestoredSocket conn = RestoredSocket.open("refused")) {
      conn.client
          .getOutputStream()
          .write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(
          new RelayDelivery(group, nobody, IDLE),
          "tail".getBytes(StandardCharsets.US_ASCII),
          closed);

      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(0, 0));
      assertThat(endOfStreamOrReset(conn.client.getInputStream())).isTrue();
      drainLoops();
      assertThat(closed.calls.get()).isEqualTo(1);
    }
  }

  @Test
  void aRefusedUpstreamIsReportedAndTheNextOneServes() throws Exception {
    InetSocketAddress nobody = refusingAddress();
    byte[] request = "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    try (TestUpstream live = new TestUpstream(TestUpstream::echo);
        RestoredSocket conn = RestoredSocket.open("second upstream")) {
      var refused = new CountingUpstream(nobody);
      var serving = new CountingUpstream(live.address());
      UpstreamChooser chooser =
          tried -> !tried.contains(refused) ? refused : tried.contains(serving) ? null : serving;
      conn.client.getOutputStream().write(request);
      conn.client.shutdownOutput();
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(
          new RelayDelivery(group, chooser, "two", Duration.ofSeconds(5), IDLE, false, 0),
          new byte[0],
          closed);

      ByteArrayOutputStream got = new ByteArrayOutputStream();
      conn.client.getInputStream().transferTo(got); // the echo, until the relayed FIN
      assertThat(got.toByteArray()).isEqualTo(request);
      assertThat(closed.await())
          .isEqualTo(new RecordingCloseListener.Counts(request.length, request.length));
      assertThat(refused.failed.get()).isEqualTo(1);
      assertThat(refused.released.get()).isZero();
      assertThat(serving.connected.get()).isEqualTo(1);
      assertThat(serving.released.get()).isEqualTo(1);
      assertThat(serving.failed.get()).isZero();
    }
  }

  /** A loopback address nothing listens on (a port just closed): connecting to it is refused. */
  private static InetSocketAddress refusingAddress() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      return (InetSocketAddress) s.getLocalSocketAddress();
    }
  }

  /** An upstream that counts what the relay tells it. */
  private static final class CountingUpstream implements UpstreamChooser.Upstream {
    final InetSocketAddress address;
    final AtomicInteger connected = new AtomicInteger();
    final AtomicInteger released = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();

    CountingUpstream(InetSocketAddress address) {
      this.address = address;
    }

    @Override
    public InetSocketAddress address() {
      return address;
    }

    @Override
    public void connected() {
      connected.incrementAndGet();
    }

    @Override
    public void released() {
      released.incrementAndGet();
    }

    @Override
    public void failed(String why) {
      failed.incrementAndGet();
    }
  }

  @Test
  void clientResetEndsTheRelayAndReportsOnce() throws Exception {
    CompletableFuture<Void> upstreamSawEnd = new CompletableFuture<>();
    try (TestUpstream upstream =
            new TestUpstream(
                s -> {
                  long n = s.getInputStream().transferTo(OutputStream.nullOutputStream());
                  upstreamSawEnd.complete(null);
                  return n;
                });
        RestoredSocket conn = RestoredSocket.open("reset")) {
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(new RelayDelivery(group, upstream.address(), IDLE), new byte[0], closed);
      conn.client.getOutputStream().write(new byte[4096]);
      conn.client.setSoLinger(true, 0);
      conn.client.close(); // RST

      closed.await();
      upstreamSawEnd.get(30, TimeUnit.SECONDS);
      drainLoops();
      assertThat(closed.calls.get()).isEqualTo(1);
      assertThat(closed.kernelDone).as("a reset connection: the kernel is done").isTrue();
    }
  }

  @Test
  void noDescriptorOutlivesItsConnection() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo)) {
      RelayDelivery relay = new RelayDelivery(group, upstream.address(), IDLE);
      // Warm-up on every loop: lazily opened descriptors (pollers and the like) stay, and so do
      // the drained pipes each loop keeps for its next relays (PipePool, bounded).
      for (int i = 0; i < 4; i++) echoOnce(relay);
      java.util.Set<String> before = openDescriptors();
      for (int i = 0; i < 10; i++) echoOnce(relay);
      drainLoops();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      // Descriptors opened since (fd number and what it points to, so a number reused for another
      // socket counts as new) and still open: leaks. Others may close meanwhile (an earlier test's
      // resources); only new ones matter. The upstream's virtual threads close their sockets on
      // their own schedule.
      while (!opened(before).isEmpty() && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
      assertThat(opened(before)).isEmpty();
    }
  }

  private static void echoOnce(RelayDelivery relay) throws Exception {
    try (RestoredSocket conn = RestoredSocket.open("fd check")) {
      conn.client.getOutputStream().write(new byte[100]);
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(relay, new byte[0], closed);
      conn.client.shutdownOutput();
      assertThat(conn.client.getInputStream().readAllBytes()).hasSize(100);
      closed.await();
    }
  }

  /** This process's open descriptors as "NUMBER -> TARGET" (socket:[inode], pipe:[inode], ...). */
  private static java.util.Set<String> openDescriptors() throws IOException {
    java.util.Set<String> open = new java.util.HashSet<>();
    try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
      for (java.nio.file.Path fd : fds.toList()) {
        try {
          java.nio.file.Path target = java.nio.file.Files.readSymbolicLink(fd);
          // The listing's own descriptor (the /proc/PID/fd directory) is not the relay's.
          if (!target.endsWith("fd")) open.add(fd.getFileName() + " -> " + target);
        } catch (IOException closedMeanwhile) {
          // closed between the listing and the read
        }
      }
    }
    return open;
  }

  /** Descriptors open now that were not in {@code before}. */
  private static java.util.Set<String> opened(java.util.Set<String> before) throws IOException {
    java.util.Set<String> now = openDescriptors();
    now.removeAll(before);
    return now;
  }

  @Test
  void refusesAGroupThatIsNotEpoll() {
    EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      assertThatThrownBy(() -> new RelayDelivery(nio, new InetSocketAddress("127.0.0.1", 80), IDLE))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("epoll");
    } finally {
      nio.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /** Runs an empty task on every loop, so whatever they had queued has run. */
  static void drainLoops() throws Exception {
    for (var loop : group) loop.submit(() -> {}).get(10, TimeUnit.SECONDS);
  }

  static CompletableFuture<Void> writeRandom(Socket s, long total, long seed, Sha256 digest) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                Random random = new Random(seed);
                byte[] buf = new byte[256 * 1024];
                OutputStream out = s.getOutputStream();
                for (long left = total; left > 0; ) {
                  int n = (int) Math.min(buf.length, left);
                  random.nextBytes(buf);
                  synchronized (digest) {
                    digest.update(buf, 0, n);
                  }
                  out.write(buf, 0, n);
                  left -= n;
                }
                s.shutdownOutput();
                done.complete(null);
              } catch (IOException | RuntimeException e) {
                done.completeExceptionally(e);
              }
            });
    return done;
  }

  /** Reads to end of stream into {@code digest}; returns the first {@code keep} bytes. */
  static byte[] readAll(InputStream in, Sha256 digest, int keep) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    byte[] buf = new byte[64 * 1024];
    for (int n; (n = in.read(buf)) > 0; ) {
      if (head.size() < keep) head.write(buf, 0, Math.min(n, keep - head.size()));
      digest.update(buf, 0, n);
    }
    return head.toByteArray();
  }

  static boolean endOfStreamOrReset(InputStream in) throws IOException {
    try {
      return in.read() == -1;
    } catch (SocketException e) {
      return true; // reset: closed with the request unread
    }
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /**
   * An upstream that answers each HTTP request with {@code answer}; returns how many it answered.
   */
  private static TestUpstream httpUpstream(String answer) throws IOException {
    return new TestUpstream(
        s -> {
          InputStream in = s.getInputStream();
          long answered = 0;
          StringBuilder head = new StringBuilder();
          for (int b; (b = in.read()) >= 0; ) {
            head.append((char) b);
            if (head.toString().endsWith("\r\n\r\n")) {
              s.getOutputStream().write(answer.getBytes(StandardCharsets.US_ASCII));
              answered++;
              head.setLength(0);
            }
          }
          return answered;
        });
  }

  private static String readAnswer(Socket client, int length) throws IOException {
    return new String(client.getInputStream().readNBytes(length), StandardCharsets.US_ASCII);
  }

  /**
   * A relay that follows HTTP stops between two requests: the answer to the first delivered, the
   * second request left unread in the client socket (it travels with a moved connection); on resume
   * the relay carries on and the second request is answered.
   */
  @Test
  void aSuspendStopsBetweenRequestsAndLeavesTheNextOneUnread() throws Exception {
    String answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    byte[] second = "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    try (TestUpstream upstream = httpUpstream(answer);
        RestoredSocket conn = RestoredSocket.open("http")) {
      conn.client
          .getOutputStream()
          .write("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      CompletableFuture<Movable> movable = new CompletableFuture<>();
      RecordingCloseListener closed = new RecordingCloseListener();
      conn.deliverTo(
          new RelayDelivery(
              group, upstream.address(), RelayDelivery.DEFAULT_CONNECT_TIMEOUT, IDLE, true),
          new byte[0],
          closed,
          movable::complete);
      assertThat(readAnswer(conn.client, answer.length())).isEqualTo(answer);
      Movable m = movable.get(5, TimeUnit.SECONDS);
      io.netty.util.concurrent.Promise<io.baton.migration.SafePoint> point = m.loop().newPromise();
      m.loop().execute(() -> m.suspend(point));
      io.baton.migration.SafePoint safe = point.get(5, TimeUnit.SECONDS);
      assertThat(safe.appState()).isEmpty();
      assertThat(safe.unread()).as("nothing read past the boundary").isEmpty();

      conn.client.getOutputStream().write(second);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (io.baton.linux.Sockets.ioctlInt(conn.fd, io.baton.linux.Sockets.SIOCINQ, "SIOCINQ")
          < second.length) {
        assertThat(System.nanoTime()).as("the second request queued").isLessThan(deadline);
        Thread.onSpinWait();
      }
      // Suspended, the relay takes nothing: the request is still there for the export.
      CompletableFuture<Integer> queued = new CompletableFuture<>();
      m.loop()
          .execute(
              () -> {
                try {
                  queued.complete(
                      io.baton.linux.Sockets.ioctlInt(
                          conn.fd, io.baton.linux.Sockets.SIOCINQ, "SIOCINQ"));
                } catch (io.baton.linux.LinuxException e) {
                  queued.completeExceptionally(e);
                }
              });
      assertThat(queued.get(5, TimeUnit.SECONDS)).isEqualTo(second.length);

      m.loop().execute(m::resume);
      assertThat(readAnswer(conn.client, answer.length())).isEqualTo(answer);
      conn.client.shutdownOutput();
      assertThat(upstream.served.get(10, TimeUnit.SECONDS))
          .as("requests the upstream answered")
          .isEqualTo(2);
      closed.await();
    }
  }

  @Test
  void aSuspendIsRefusedOnceTheUpstreamSaidItWillClose() throws Exception {
    String answer = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    try (TestUpstream upstream = httpUpstream(answer);
        RestoredSocket conn = RestoredSocket.open("http")) {
      conn.client
          .getOutputStream()
          .write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      CompletableFuture<Movable> movable = new CompletableFuture<>();
      conn.deliverTo(
          new RelayDelivery(
              group, upstream.address(), RelayDelivery.DEFAULT_CONNECT_TIMEOUT, IDLE, true),
          new byte[0],
          new RecordingCloseListener(),
          movable::complete);
      assertThat(readAnswer(conn.client, answer.length())).isEqualTo(answer);
      Movable m = movable.get(5, TimeUnit.SECONDS);
      io.netty.util.concurrent.Promise<io.baton.migration.SafePoint> point = m.loop().newPromise();
      m.loop().execute(() -> m.suspend(point));
      assertThat(point.await(5, TimeUnit.SECONDS)).isTrue();
      assertThat(point.cause()).hasMessageContaining("upstream closes");
    }
  }

  /**
   * A relay that does not follow HTTP (an l4 or tls VIP) has no safe point: a plain suspend is
   * refused with the reason; a forced one stops taking bytes, delivers what it took, and stops;
   * bytes the client sends then stay queued in its socket, and a resume carries on.
   */
  @Test
  void anOpaqueRelayMovesOnlyWhenForced() throws Exception {
    try (TestUpstream upstream = new TestUpstream(TestUpstream::echo);
        RestoredSocket conn = RestoredSocket.open("l4")) {
      CompletableFuture<Movable> movable = new CompletableFuture<>();
      conn.deliverTo(
          new RelayDelivery(
              group, upstream.address(), RelayDelivery.DEFAULT_CONNECT_TIMEOUT, IDLE, false),
          new byte[0],
          new RecordingCloseListener(),
          movable::complete);
      conn.client.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(readAnswer(conn.client, 5)).isEqualTo("ping\n");
      Movable m = movable.get(5, TimeUnit.SECONDS);
      io.netty.util.concurrent.Promise<io.baton.migration.SafePoint> refused =
          m.loop().newPromise();
      m.loop().execute(() -> m.suspend(refused));
      assertThat(refused.await(5, TimeUnit.SECONDS)).isTrue();
      assertThat(refused.cause()).hasMessageContaining("does not follow HTTP");

      io.netty.util.concurrent.Promise<io.baton.migration.SafePoint> forced = m.loop().newPromise();
      m.loop().execute(() -> m.forceSuspend(forced));
      assertThat(forced.get(5, TimeUnit.SECONDS).unread()).isEmpty();
      conn.client.getOutputStream().write("pong\n".getBytes(StandardCharsets.US_ASCII));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (io.baton.linux.Sockets.ioctlInt(conn.fd, io.baton.linux.Sockets.SIOCINQ, "SIOCINQ")
          < 5) {
        assertThat(System.nanoTime()).as("the bytes queued").isLessThan(deadline);
        Thread.onSpinWait();
      }
      m.loop().execute(m::resume);
      assertThat(readAnswer(conn.client, 5)).isEqualTo("pong\n");
    }
  }
}
