package io.baton.server.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.app.RawHttpClient;
import io.baton.app.RawHttpClient.Response;
import io.baton.app.SampleApp;
import io.baton.app.SampleFiles;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample application receiving restored-looking connections in the same JVM: the request is
 * queued in the kernel before delivery, as after a handoff.
 */
class EmbeddedDeliveryTest {
  private static final int MIB = 1024 * 1024;
  private static final java.time.Duration IDLE = java.time.Duration.ofSeconds(60);
  private static final java.time.Duration SHORT_IDLE = java.time.Duration.ofMillis(800);
  @TempDir static Path dir;
  private static EventLoopGroup group;
  private static SampleFiles files;
  private static EmbeddedDelivery delivery;

  @BeforeAll
  static void start() throws IOException {
    group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    files = SampleFiles.create(dir, 30);
    delivery = new EmbeddedDelivery(group, SampleApp.initializer(files.root, "node-a"), IDLE);
  }

  @AfterAll
  static void stop() {
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** A connection whose first bytes were queued before delivery, like a replayed request. */
  private static RestoredSocket delivered(String queued, byte[] tail, CloseListener onClosed)
      throws IOException {
    RestoredSocket conn = RestoredSocket.open(queued.lines().findFirst().orElse(""));
    conn.client.getOutputStream().write(queued.getBytes(StandardCharsets.ISO_8859_1));
    conn.deliverTo(delivery, tail, onClosed);
    return conn;
  }

  private static RestoredSocket delivered(String queued) throws IOException {
    return delivered(queued, new byte[0], (in, out) -> {});
  }

  @Test
  void getOf30MiBFileIsByteExact() throws Exception {
    try (RestoredSocket conn = delivered("GET /big.bin HTTP/1.1\r\nHost: vip\r\n\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      Response r = http.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("content-type")).isEqualTo("application/octet-stream");
      assertThat(r.length()).isEqualTo(files.bigLength);
      assertThat(r.sha256()).isEqualTo(files.bigSha256);
    }
  }

  /**
   * Request then FIN, as a half-closed connection arrives after a move: the FIN already sits behind
   * the request in the receive queue. The answer (30 MiB, far more than one write) must arrive
   * whole, then the server's FIN.
   */
  @Test
  void requestThenFinIsAnsweredWholeAndClosed() throws Exception {
    RecordingCloseListener closed = new RecordingCloseListener();
    String request = "GET /big.bin HTTP/1.1\r\nHost: vip\r\n\r\n";
    try (RestoredSocket conn = RestoredSocket.open("request then FIN");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      conn.client.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      conn.client.shutdownOutput();
      awaitCloseWait(conn.fd);
      conn.deliverTo(delivery, new byte[0], closed);

      Response r = http.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.length()).isEqualTo(files.bigLength);
      assertThat(r.sha256()).isEqualTo(files.bigSha256);
      assertThat(http.closedByServer()).isTrue();
      assertThat(closed.await().fromClient()).isEqualTo(request.length());
    }
  }

  @Test
  void pipelinedRequestsThenFinAreAllAnswered() throws Exception {
    String pipeline =
        "GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n"
            + "GET /hello.txt HTTP/1.1\r\nHost: vip\r\n\r\n";
    try (RestoredSocket conn = RestoredSocket.open("pipeline then FIN");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      conn.client.getOutputStream().write(pipeline.getBytes(StandardCharsets.US_ASCII));
      conn.client.shutdownOutput();
      awaitCloseWait(conn.fd);
      conn.deliverTo(delivery, new byte[0], (in, out) -> {});

      assertThat(http.read().text()).isEqualTo("node-a\n");
      assertThat(http.read().text()).isEqualTo("hello\n");
      assertThat(http.closedByServer()).isTrue();
    }
  }

  @Test
  void idleKeepAliveConnectionIsClosedWithAFinAndCounted() throws Exception {
    EmbeddedDelivery shortIdle =
        new EmbeddedDelivery(group, SampleApp.initializer(files.root, "node-a"), SHORT_IDLE);
    RecordingCloseListener closed = new RecordingCloseListener();
    String request = "GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n";
    try (RestoredSocket conn = RestoredSocket.open("idle keep-alive");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      conn.client.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      conn.deliverTo(shortIdle, new byte[0], closed);
      assertThat(http.read().text()).isEqualTo("node-a\n");
      long idleFrom = System.nanoTime();

      assertThat(conn.client.getInputStream().read())
          .as("end of stream, not a reset")
          .isEqualTo(-1);
      long closedAfterMs = (System.nanoTime() - idleFrom) / 1_000_000;
      assertThat(closed.await().fromClient()).isEqualTo(request.length());
      assertThat(shortIdle.idleTimeouts()).isEqualTo(1);
      assertThat(closedAfterMs).isGreaterThanOrEqualTo(SHORT_IDLE.toMillis() - 50);
    }
  }

  @Test
  void busyKeepAliveConnectionOutlivesManyIdleTimeouts() throws Exception {
    EmbeddedDelivery shortIdle =
        new EmbeddedDelivery(group, SampleApp.initializer(files.root, "node-a"), SHORT_IDLE);
    RecordingCloseListener closed = new RecordingCloseListener();
    try (RestoredSocket conn = RestoredSocket.open("busy keep-alive");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      conn.deliverTo(shortIdle, new byte[0], closed);
      long start = System.nanoTime();
      int answered = 0;
      // A request every 100 ms, 16 times: two idle timeouts in all, never idle that long.
      while (answered < 16) {
        http.send("GET /hello.txt HTTP/1.1\r\nHost: vip\r\n\r\n");
        assertThat(http.read().text()).isEqualTo("hello\n");
        answered++;
        Thread.sleep(100); // the traffic's pace, not a synchronisation
      }
      assertThat(System.nanoTime() - start).isGreaterThan(2 * SHORT_IDLE.toNanos());
      assertThat(shortIdle.idleTimeouts()).isZero();
      assertThat(closed.calls.get()).isZero();
    }
  }

  static void awaitCloseWait(int fd) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (io.baton.linux.TcpInfo.of(fd).state() != io.baton.linux.TcpInfo.STATE_CLOSE_WAIT) {
      if (System.nanoTime() > deadline) throw new AssertionError("the FIN never arrived");
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
  }

  @Test
  void keepAliveServesThreeRequestsOnOneConnection() throws Exception {
    try (RestoredSocket conn = delivered("GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      assertThat(http.read().text()).isEqualTo("node-a\n");
      http.send("GET /hello.txt HTTP/1.1\r\nHost: vip\r\n\r\n");
      Response second = http.read();
      assertThat(second.text()).isEqualTo("hello\n");
      assertThat(second.header("content-type")).isEqualTo("text/plain; charset=utf-8");
      http.send("GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n");
      Response third = http.read();
      assertThat(third.text()).isEqualTo(SampleFiles.INDEX);
      assertThat(third.header("content-type")).startsWith("text/html");
      assertThat(http.closedByServer()).isTrue();
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    String pipeline =
        "GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n"
            + "GET /missing HTTP/1.1\r\nHost: vip\r\n\r\n"
            + "HEAD /hello.txt HTTP/1.1\r\nHost: vip\r\n\r\n"
            + "GET /big.bin HTTP/1.1\r\nHost: vip\r\n\r\n"
            + "GET /hello.txt HTTP/1.1\r\nHost: vip\r\n\r\n";
    try (RestoredSocket conn = delivered(pipeline);
        RawHttpClient http = new RawHttpClient(conn.client)) {
      assertThat(http.read().text()).isEqualTo("node-a\n");
      assertThat(http.read().status()).isEqualTo(404);
      Response head = http.read(true);
      assertThat(head.status()).isEqualTo(200);
      assertThat(head.header("content-length")).isEqualTo("6");
      assertThat(http.read().sha256()).isEqualTo(files.bigSha256);
      assertThat(http.read().text()).isEqualTo("hello\n");
    }
  }

  @Test
  void echoStreams50MiBBackByteExactWithoutHoldingIt() throws Exception {
    long length = 50L * MIB;
    ByteBufAllocatorMetric metric =
        ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
    long before = metric.usedDirectMemory() + metric.usedHeapMemory();
    AtomicLong peak = new AtomicLong(before);
    String head = "POST /echo HTTP/1.1\r\nHost: vip\r\nContent-Length: " + length + "\r\n\r\n";
    try (RestoredSocket conn = delivered(head);
        RawHttpClient http = new RawHttpClient(conn.client)) {
      MessageDigest sent = RawHttpClient.sha256();
      CompletableFuture<Void> writer =
          writeBody(
              http.out(),
              length,
              sent,
              () ->
                  peak.accumulateAndGet(
                      metric.usedDirectMemory() + metric.usedHeapMemory(), Math::max));
      Response r = http.read();
      writer.get(60, TimeUnit.SECONDS);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.length()).isEqualTo(length);
      assertThat(r.sha256()).isEqualTo(HexFormat.of().formatHex(sent.digest()));
    }
    // Aggregating the body would need 50 MiB of buffers; streaming needs a few socket reads.
    assertThat(peak.get() - before).isLessThan(16L * MIB);
  }

  @Test
  void http10IsAnsweredInKindAndClosed() throws Exception {
    try (RestoredSocket conn = delivered("GET /hello.txt HTTP/1.0\r\n\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      Response r = http.read();
      assertThat(r.version()).isEqualTo("HTTP/1.0");
      assertThat(r.text()).isEqualTo("hello\n");
      assertThat(http.closedByServer()).isTrue();
    }
  }

  @Test
  void chunkedRequestBodyIsEchoedChunked() throws Exception {
    String request =
        "POST /echo HTTP/1.1\r\nHost: vip\r\nTransfer-Encoding: chunked\r\n"
            + "Content-Type: text/plain\r\n\r\n"
            + "5\r\nhello\r\n1\r\n \r\n";
    try (RestoredSocket conn = delivered(request);
        RawHttpClient http = new RawHttpClient(conn.client)) {
      http.send("6\r\nworld!\r\n0\r\n\r\n");
      Response r = http.read();
      assertThat(r.header("transfer-encoding")).isEqualTo("chunked");
      assertThat(r.header("content-type")).isEqualTo("text/plain");
      assertThat(r.text()).isEqualTo("hello world!");
      http.send("GET /whoami HTTP/1.1\r\nHost: vip\r\n\r\n"); // still usable
      assertThat(http.read().text()).isEqualTo("node-a\n");
    }
  }

  @Test
  void refusalsAndErrors() throws Exception {
    record Case(String request, int status, String allow) {}
    List<Case> cases =
        List.of(
            new Case("GET /nope.txt", 404, null),
            new Case("GET /../secret.txt", 403, null),
            new Case("GET /%2e%2e/secret.txt", 403, null),
            new Case("GET /a/../../secret.txt", 403, null),
            new Case("GET /escape.txt", 403, null),
            new Case("DELETE /hello.txt", 405, "GET, HEAD"),
            new Case("GET /echo", 405, "POST"),
            new Case("PUT /whoami", 405, "GET, HEAD"));
    StringBuilder all = new StringBuilder();
    for (Case c : cases) all.append(c.request).append(" HTTP/1.1\r\nHost: vip\r\n\r\n");
    try (RestoredSocket conn = delivered(all.toString());
        RawHttpClient http = new RawHttpClient(conn.client)) {
      for (Case c : cases) {
        Response r = http.read();
        assertThat(r.status()).as(c.request).isEqualTo(c.status);
        assertThat(r.header("allow")).as(c.request).isEqualTo(c.allow);
      }
    }
  }

  @Test
  void oversizedHeadersGet431AndClose() throws Exception {
    String big = "X-Filler: " + "a".repeat(SampleApp.MAX_HEADER_BYTES) + "\r\n";
    try (RestoredSocket conn =
            delivered("GET /hello.txt HTTP/1.1\r\nHost: vip\r\n" + big + "\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      assertThat(http.read().status()).isEqualTo(431);
      assertThat(http.closedByServer()).isTrue();
    }
  }

  @Test
  void overlongRequestLineGets414() throws Exception {
    String uri = "/" + "a".repeat(SampleApp.MAX_REQUEST_LINE_BYTES);
    try (RestoredSocket conn = delivered("GET " + uri + " HTTP/1.1\r\nHost: vip\r\n\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      assertThat(http.read().status()).isEqualTo(414);
    }
  }

  @Test
  void garbageGets400() throws Exception {
    try (RestoredSocket conn = delivered("HELLO\u0001 THERE\r\n\r\n");
        RawHttpClient http = new RawHttpClient(conn.client)) {
      assertThat(http.read().status()).isEqualTo(400);
    }
  }

  @Test
  void tailComesFirstAndCloseReportsTheBytes() throws Exception {
    byte[] tail = "previous-owner-bytes|".getBytes(StandardCharsets.US_ASCII);
    String request = "GET /hello.txt HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";
    RecordingCloseListener closed = new RecordingCloseListener();
    try (RestoredSocket conn = delivered(request, tail, closed)) {
      byte[] all = conn.client.getInputStream().readAllBytes();
      assertThat(Arrays.copyOf(all, tail.length)).isEqualTo(tail);
      String response =
          new String(all, tail.length, all.length - tail.length, StandardCharsets.US_ASCII);
      assertThat(response).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nhello\n");
      assertThat(closed.await())
          .isEqualTo(new RecordingCloseListener.Counts(request.length(), all.length));
      assertThat(closed.calls.get()).isEqualTo(1);
    }
  }

  @Test
  void descriptorThatIsNoSocketIsClosedAndReportedAtOnce() throws Exception {
    RecordingCloseListener closed = new RecordingCloseListener();
    io.baton.linux.Splice.Pipe pipe = io.baton.linux.Splice.pipe();
    try {
      java.net.Inet4Address lo =
          (java.net.Inet4Address) java.net.InetAddress.getByName("127.0.0.1");
      ConnectionInfo info =
          new ConnectionInfo(new io.baton.transplant.FlowKey(lo, 1, lo, 2), "pipe");
      delivery.deliver(pipe.readFd(), new byte[0], info, closed);
      assertThat(closed.await()).isEqualTo(new RecordingCloseListener.Counts(0, 0));
    } finally {
      io.baton.linux.Sockets.closeQuietly(pipe.writeFd());
    }
  }

  static CompletableFuture<Void> writeBody(
      OutputStream out, long total, MessageDigest digest, Runnable afterEachWrite) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                Random random = new Random(5);
                byte[] buf = new byte[256 * 1024];
                for (long left = total; left > 0; ) {
                  int n = (int) Math.min(buf.length, left);
                  random.nextBytes(buf);
                  digest.update(buf, 0, n);
                  out.write(buf, 0, n);
                  afterEachWrite.run();
                  left -= n;
                }
                done.complete(null);
              } catch (IOException | RuntimeException e) {
                done.completeExceptionally(e);
              }
            });
    return done;
  }
}
