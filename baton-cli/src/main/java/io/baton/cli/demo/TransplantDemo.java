package io.baton.cli.demo;

import io.baton.dispatcher.LatencyRecorder;
import io.baton.linux.FdIo;
import io.baton.linux.Sockets;
import io.baton.linux.TcpInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * {@code baton demo} for the transplant stage: builds {@link DemoLab} and shows, with real kernels
 * and real clients, a live TCP connection moving from the host that accepted it to a server that
 * answers the client directly. Four acts: a bidirectional stream moved mid-flight, a curl download
 * served after the move, many short handoffs timed, and a check that no RST was seen. Every act
 * verifies bytes by SHA-256 and reports a failure instead of hiding it.
 *
 * <p>Confined to the calling thread (it uses helper threads internally and joins them).
 */
public final class TransplantDemo {
  private static final int MIB = 1 << 20;
  private static final Duration STEP_LIMIT = Duration.ofSeconds(120);

  private final PrintWriter out;
  private final int handoffs;
  private final DemoChecks checks;

  public TransplantDemo(PrintWriter out, int handoffs) {
    this.out = out;
    this.checks = new DemoChecks(out);
    this.handoffs = handoffs;
  }

  /**
   * Runs the demo; returns true when every check passed. With {@code keep}, serves until
   * interrupted.
   */
  public boolean run(boolean keep) throws Exception {
    out.println(
        "Building the lab: client, a (accepts on VIP "
            + DemoLab.VIP
            + ":"
            + DemoLab.PORT
            + "), b (VIP on lo, guarded), front + fabric segments ...");
    out.flush();
    try (DemoLab lab = new DemoLab()) {
      out.println(
          "  namespaces: " + lab.client.nsName() + ", " + lab.a.nsName() + ", " + lab.b.nsName());
      streamAct(lab);
      curlAct(lab);
      handoffAct(lab);
      long[] rsts = lab.clientRsts();
      checks.check(
          rsts[0] == 0 && rsts[1] == 0,
          "RST segments seen by the client: received " + rsts[0] + ", sent " + rsts[1]);
      out.println(
          "guard on b dropped "
              + lab.guardDrops()
              + " early packets (each one retransmitted, none reset)");
      out.println(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      out.flush();
      if (keep) serveUntilInterrupted(lab);
    }
    return !checks.failed();
  }

  /** Act 1: a connection with unread bytes queued on a is moved; then 8 MiB flow each way. */
  private void streamAct(DemoLab lab) throws Exception {
    out.println("[1] stream: move a connection with queued bytes, then 8 MiB each way");
    long deadline = System.nanoTime() + STEP_LIMIT.toNanos();
    Socket client = lab.client.call(() -> connect(Duration.ofSeconds(10)));
    int aFd = lab.accept(deadline);
    MessageDigest upSent = sha();
    MessageDigest upSeen = sha();
    MessageDigest downSent = sha();
    MessageDigest downSeen = sha();
    byte[] first = random(1, 64 * 1024);
    client.getOutputStream().write(first);
    upSent.update(first);
    byte[] peeked = new byte[16 * 1024];
    int got = 0;
    while (got < peeked.length) got += FdIo.read(aFd, peeked, got, peeked.length - got, deadline);
    while (Sockets.ioctlInt(aFd, Sockets.SIOCINQ, "SIOCINQ") < first.length - peeked.length) {
      if (System.nanoTime() > deadline) throw new IOException("client bytes did not arrive");
      Thread.onSpinWait();
    }
    DemoLab.Handoff h = lab.handOff(aFd, peeked);
    int bFd = h.restored().fd();
    TcpInfo bInfo = TcpInfo.of(bFd);
    out.printf(
        "    exported %d-byte state (%d queued for b, %d of them already read by a) in %s,"
            + " restored in %s%n",
        h.wireBytes(),
        h.state().receiveQueue().length,
        h.state().receiveQueueAlreadyRead(),
        LatencyRecorder.micros(h.exportNs()),
        LatencyRecorder.micros(h.restoreNs()));
    out.printf(
        "    b's socket: %s, wscale %d/%d, SACK %s, timestamps %s%n",
        TcpInfo.stateName(bInfo.state()),
        bInfo.sndWscale(),
        bInfo.rcvWscale(),
        bInfo.sack(),
        bInfo.timestamps());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      long[] counts = new long[4];
      List<Future<?>> work =
          List.of(
              pool.submit(
                  () -> {
                    counts[0] = pumpStream(client.getOutputStream(), 2, 8 * MIB, upSent);
                    client.shutdownOutput();
                    return null;
                  }),
              pool.submit(
                  () -> {
                    counts[1] = drainStream(client.getInputStream(), downSeen);
                    return null;
                  }),
              pool.submit(
                  () -> {
                    counts[2] = drainFd(bFd, upSeen, deadline);
                    return null;
                  }),
              pool.submit(
                  () -> {
                    counts[3] = pumpFd(bFd, 3, 8 * MIB, downSent, deadline);
                    Sockets.shutdown(bFd, Sockets.SHUT_WR);
                    return null;
                  }));
      for (Future<?> f : work) f.get(STEP_LIMIT.toSeconds(), TimeUnit.SECONDS);
      String up = hex(upSent);
      String down = hex(downSent);
      checks.check(
          up.equals(hex(upSeen)),
          "client->server "
              + (first.length + counts[0])
              + " bytes, b read "
              + counts[2]
              + ", sha256 "
              + up.substring(0, 16)
              + "… match");
      checks.check(
          down.equals(hex(downSeen)),
          "server->client "
              + counts[3]
              + " bytes, client read "
              + counts[1]
              + ", sha256 "
              + down.substring(0, 16)
              + "… match");
    } finally {
      pool.shutdownNow();
      client.close();
      Sockets.closeQuietly(bFd);
    }
    lab.retire(h.state().flow());
  }

  /** Act 2: curl asks a for a file; b serves it after the move, straight to the client. */
  private void curlAct(DemoLab lab) throws Exception {
    int size = 64 * MIB;
    out.println("[2] curl: GET of " + size / MIB + " MiB, request read by a, response sent by b");
    long deadline = System.nanoTime() + STEP_LIMIT.toNanos();
    Path file = lab.lab.dir().resolve("curl-download.bin");
    var aFront0 = lab.a.interfaceStats("front");
    var bFront0 = lab.b.interfaceStats("front");
    Process curl =
        lab.client.start(
            List.of(
                "curl",
                "-sS",
                "--max-time",
                "100",
                "-o",
                file.toString(),
                "http://" + DemoLab.VIP + ":" + DemoLab.PORT + "/big.bin"));
    int aFd = lab.accept(deadline);
    byte[] head =
        FdIo.readUntil(aFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 16 * 1024, deadline);
    DemoLab.Handoff h = lab.handOff(aFd, head);
    int bFd = h.restored().fd();
    MessageDigest body = sha();
    try {
      byte[] replayed =
          FdIo.readUntil(bFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 16 * 1024, deadline);
      checks.check(
          java.util.Arrays.equals(replayed, head),
          "b received the request head a had read ("
              + head.length
              + " bytes): "
              + firstLine(replayed));
      byte[] header =
          ("HTTP/1.1 200 OK\r\nContent-Length: "
                  + size
                  + "\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII);
      FdIo.writeAll(bFd, header, 0, header.length, deadline);
      pumpFd(bFd, 4, size, body, deadline);
    } finally {
      Sockets.closeQuietly(bFd);
    }
    boolean exited = curl.waitFor(STEP_LIMIT.toSeconds(), TimeUnit.SECONDS);
    checks.check(
        exited && curl.exitValue() == 0,
        "curl exited "
            + (exited ? curl.exitValue() : "late")
            + (exited && curl.exitValue() != 0
                ? ": " + Files.readString(lab.client.stderrOf(curl)).strip()
                : ""));
    MessageDigest downloaded = sha();
    long length = 0;
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        downloaded.update(buf, 0, n);
        length += n;
      }
    }
    String want = hex(body);
    checks.check(
        length == size && want.equals(hex(downloaded)),
        "curl saved " + length + " bytes, sha256 " + want.substring(0, 16) + "… match");
    var aFront = lab.a.interfaceStats("front");
    var bFront = lab.b.interfaceStats("front");
    long aTx = aFront.txBytes() - aFront0.txBytes();
    long bTx = bFront.txBytes() - bFront0.txBytes();
    out.printf(
        "    bytes sent to the client: b %,d (direct server return), a %,d (%.3f%% of b's)%n",
        bTx, aTx, 100.0 * aTx / Math.max(1, bTx));
    checks.check(aTx * 100 < bTx, "a transmitted under 1% of the response bytes");
    lab.retire(h.state().flow());
  }

  /** Act 3: many short connections, each handed off once; timings of export and restore. */
  private void handoffAct(DemoLab lab) throws Exception {
    out.println(
        "[3] handoffs: " + handoffs + " connections, each request read by a and answered by b");
    LatencyRecorder export = new LatencyRecorder(handoffs);
    LatencyRecorder nft = new LatencyRecorder(handoffs);
    LatencyRecorder restore = new LatencyRecorder(handoffs);
    LatencyRecorder total = new LatencyRecorder(handoffs);
    long start = System.nanoTime();
    int ok = 0;
    for (int i = 0; i < handoffs; i++) {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      Socket client = lab.client.call(() -> connect(Duration.ofSeconds(10)));
      try {
        String path = "/item/" + i;
        client
            .getOutputStream()
            .write(("GET " + path + " HTTP/1.0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        int aFd = lab.accept(deadline);
        byte[] head =
            FdIo.readUntil(aFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 4096, deadline);
        DemoLab.Handoff h = lab.handOff(aFd, head);
        export.record(h.exportNs());
        nft.record(h.nftNs());
        restore.record(h.restoreNs());
        total.record(h.totalNs());
        int bFd = h.restored().fd();
        try {
          byte[] replayed =
              FdIo.readUntil(bFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 4096, deadline);
          byte[] reply =
              ("HTTP/1.0 200 OK\r\n\r\nserved by b: " + firstLine(replayed).split(" ")[1] + "\n")
                  .getBytes(StandardCharsets.US_ASCII);
          FdIo.writeAll(bFd, reply, 0, reply.length, deadline);
        } finally {
          Sockets.close(bFd);
        }
        client.setSoTimeout(10_000);
        String answer =
            new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        if (answer.endsWith("served by b: " + path + "\n")) ok++;
        client.close();
        lab.retire(h.state().flow());
        lab.reap();
      } finally {
        client.close();
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    checks.check(
        ok == handoffs, ok + "/" + handoffs + " clients got b's answer to their own request");
    out.println("    export (freeze + repair read): " + export.summary());
    out.println("    restore (socket to ESTABLISHED): " + restore.summary());
    out.println("    nftables batch (drop + forward): " + nft.summary());
    out.println(
        "    whole handoff incl. lab thread hops: "
            + total.summary()
            + String.format(" (%.0f handoffs/s, one at a time)", handoffs / seconds));
    lab.reapAll();
    int entries = lab.forwardingEntries();
    checks.check(
        entries == 0,
        "forwarding table empty after the connections closed (" + entries + " entries)");
  }

  private void serveUntilInterrupted(DemoLab lab) throws Exception {
    out.println();
    out.println("The lab stays up. In another shell, as root:");
    out.println(
        "  ip netns exec "
            + lab.client.nsName()
            + " curl http://"
            + DemoLab.VIP
            + ":"
            + DemoLab.PORT
            + "/");
    out.println(
        "Each connection is accepted by a, handed to b, and answered by b. Ctrl-C ends it and tears the lab down.");
    out.flush();
    while (!Thread.currentThread().isInterrupted()) {
      int aFd;
      try {
        aFd = lab.accept(System.nanoTime() + Duration.ofHours(1).toNanos());
      } catch (IOException e) {
        continue;
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      try {
        byte[] head =
            FdIo.readUntil(
                aFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 16 * 1024, deadline);
        DemoLab.Handoff h = lab.handOff(aFd, head);
        int bFd = h.restored().fd();
        FdIo.readUntil(bFd, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 16 * 1024, deadline);
        String bodyText =
            "Hello from b. a accepted this connection and read your request ("
                + firstLine(head)
                + "), then handed the live TCP connection to b in "
                + LatencyRecorder.micros(h.totalNs())
                + ".\n";
        byte[] reply =
            ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + bodyText.length()
                    + "\r\nConnection: close\r\n\r\n"
                    + bodyText)
                .getBytes(StandardCharsets.US_ASCII);
        FdIo.writeAll(bFd, reply, 0, reply.length, deadline);
        Sockets.close(bFd);
        lab.retire(h.state().flow());
        lab.reap();
        out.println("served " + h.state().flow());
        out.flush();
      } catch (Exception e) {
        out.println("request failed: " + e.getMessage());
        out.flush();
        Sockets.closeQuietly(aFd);
      }
    }
  }

  private static Socket connect(Duration timeout) throws IOException {
    Socket s = new Socket();
    s.connect(
        new InetSocketAddress(DemoLab.ip(DemoLab.VIP), DemoLab.PORT), (int) timeout.toMillis());
    return s;
  }

  private static long pumpStream(OutputStream out, long seed, int total, MessageDigest digest)
      throws IOException {
    Random random = new Random(seed);
    byte[] chunk = new byte[64 * 1024];
    for (int left = total; left > 0; left -= chunk.length) {
      random.nextBytes(chunk);
      int n = Math.min(left, chunk.length);
      out.write(chunk, 0, n);
      digest.update(chunk, 0, n);
    }
    return total;
  }

  private static long pumpFd(int fd, long seed, int total, MessageDigest digest, long deadline)
      throws IOException {
    Random random = new Random(seed);
    byte[] chunk = new byte[256 * 1024];
    for (int left = total; left > 0; left -= chunk.length) {
      random.nextBytes(chunk);
      int n = Math.min(left, chunk.length);
      FdIo.writeAll(fd, chunk, 0, n, deadline);
      digest.update(chunk, 0, n);
    }
    return total;
  }

  private static long drainStream(InputStream in, MessageDigest digest) throws IOException {
    byte[] buf = new byte[64 * 1024];
    long total = 0;
    int n;
    while ((n = in.read(buf)) > 0) {
      digest.update(buf, 0, n);
      total += n;
    }
    return total;
  }

  private static long drainFd(int fd, MessageDigest digest, long deadline) throws IOException {
    byte[] buf = new byte[64 * 1024];
    long total = 0;
    int n;
    while ((n = FdIo.read(fd, buf, 0, buf.length, deadline)) > 0) {
      digest.update(buf, 0, n);
      total += n;
    }
    return total;
  }

  private static String firstLine(byte[] head) {
    String s = new String(head, StandardCharsets.US_ASCII);
    int eol = s.indexOf("\r\n");
    return eol < 0 ? s : s.substring(0, eol);
  }

  private static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static MessageDigest sha() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static String hex(MessageDigest d) {
    return HexFormat.of().formatHex(((MessageDigest) cloneOf(d)).digest());
  }

  private static Object cloneOf(MessageDigest d) {
    try {
      return d.clone();
    } catch (CloneNotSupportedException e) {
      throw new AssertionError(e);
    }
  }
}
