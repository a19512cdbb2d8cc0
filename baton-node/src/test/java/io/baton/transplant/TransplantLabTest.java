package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.linux.Sockets;
import io.baton.linux.TcpInfo;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Moves live TCP connections between two lab hosts with real kernels: host A (the VIP owner)
 * exports, host B (VIP on lo, behind the guard) restores, A forwards the client's later packets to
 * B through nftables, and B answers the client directly.
 */
@Tag("lab")
class TransplantLabTest {
  private static final Duration LIMIT = Duration.ofSeconds(60);
  private static final int MIB = 1 << 20;

  @ParameterizedTest(name = "ipv6={0}")
  @ValueSource(booleans = {false, true})
  void movedConnectionKeepsBothQueuesAndCarriesMebibytesBothWays(boolean ipv6) throws Exception {
    try (TwoHostLab lab = new TwoHostLab("transplant", ipv6)) {
      int listener = lab.a.call(() -> TwoHostLab.listenOn(lab.vip));
      int clientFd = lab.client.call(() -> TwoHostLab.connectTo(lab.vip));
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      BlockingFd client = new BlockingFd(clientFd, LIMIT);
      BlockingFd aSide = new BlockingFd(aFd, LIMIT);
      StreamDigest upSent = new StreamDigest();
      StreamDigest upSeen = new StreamDigest();
      StreamDigest downSent = new StreamDigest();
      StreamDigest downSeen = new StreamDigest();

      // Before the move: 64 KiB up, of which A reads 10 KiB; 20 KiB down, all read by the client.
      byte[] up1 = StreamDigest.random(1, 64 * 1024);
      client.writeAll(up1, 0, up1.length);
      upSent.update(up1);
      byte[] alreadyRead = new byte[10 * 1024];
      aSide.readFully(alreadyRead);
      byte[] down1 = StreamDigest.random(2, 20 * 1024);
      aSide.writeAll(down1, 0, down1.length);
      downSent.update(down1);
      byte[] got = new byte[down1.length];
      client.readFully(got);
      downSeen.update(got);
      int unreadUp = up1.length - alreadyRead.length;
      awaitTrue(
          () -> ioctl(aFd, Sockets.SIOCINQ) == unreadUp, "A's receive queue to hold the rest");

      // Freeze A (its kernel now ignores the client's ACKs), then queue 2 MiB: part goes out and
      // stays unacknowledged, the rest never leaves A.
      // A send buffer far larger than A's congestion window: without it, autotuning may leave
      // the buffer so small that the whole queue fits the window and leaves at once (seen: a run
      // with nothing unsent at export).
      lab.a.call(
          () -> {
            Sockets.setInt(aFd, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, 4 * MIB, "SO_SNDBUF");
            return null;
          });
      Move move = lab.a.call(() -> Move.start(aFd));
      byte[] down2 = StreamDigest.random(3, 2 * MIB);
      int queued = lab.a.call(() -> sendWhatFits(aFd, down2));
      downSent.update(down2, 0, queued);
      awaitTrue(
          () ->
              ioctl(aFd, Sockets.SIOCOUTQ) > ioctl(aFd, Sockets.SIOCOUTQNSD)
                  && ioctl(aFd, Sockets.SIOCOUTQNSD) > 0,
          "bytes in flight from A and bytes it never sent");
      lab.holdForB(move);

      TwoHostLab.Moved moved = lab.moveToB(move, alreadyRead);
      ConnectionState state = moved.state();
      assertThat(state.flow().ipv6()).isEqualTo(ipv6);
      System.out.printf(
          "transplant %s: export %.1f us (incl. thread hop), restore %.1f us (replay %.1f us),"
              + " %d queued bytes%n",
          ipv6 ? "IPv6" : "IPv4",
          moved.exportNs() / 1e3,
          moved.restored().timings().totalNs() / 1e3,
          moved.restored().timings().replayNs() / 1e3,
          state.receiveQueue().length + state.sendQueue().length);
      assertThat(state.receiveQueue()).hasSize(up1.length);
      assertThat(state.receiveQueueAlreadyRead()).isEqualTo(alreadyRead.length);
      assertThat(state.sendQueueUnacked()).as("sent but unacknowledged at export").isPositive();
      assertThat(state.sendQueueUnsent()).as("never sent at export").isPositive();
      assertThat(state.sendQueue()).hasSize(queued);

      int bFd = moved.restored().fd();
      TcpInfo clientInfo = TcpInfo.of(clientFd);
      TcpInfo serverInfo = TcpInfo.of(bFd);
      assertThat(serverInfo.state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
      assertThat(serverInfo.sack()).isEqualTo(clientInfo.sack()).isTrue();
      assertThat(serverInfo.timestamps()).isEqualTo(clientInfo.timestamps()).isTrue();
      assertThat(serverInfo.windowScaling()).isEqualTo(clientInfo.windowScaling()).isTrue();
      assertThat(serverInfo.sndWscale()).isEqualTo(clientInfo.rcvWscale());
      assertThat(serverInfo.rcvWscale()).isEqualTo(clientInfo.sndWscale());

      // After the move: 8 MiB each way at once, B writing the unsent tail first.
      BlockingFd bSide = new BlockingFd(bFd, LIMIT);
      byte[] tail = moved.restored().unsentTail();
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<?>> work =
            List.of(
                pool.submit(() -> pump(client, 4, 8 * MIB, upSent)),
                pool.submit(() -> drain(client, downSeen)),
                pool.submit(() -> drain(bSide, upSeen)),
                pool.submit(
                    () -> {
                      bSide.writeAll(tail, 0, tail.length);
                      return pump(bSide, 5, 8 * MIB, downSent);
                    }));
        try {
          for (Future<?> f : work) f.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          throw new AssertionError(
              "transfer failed: up sent "
                  + upSent.bytes()
                  + " seen "
                  + upSeen.bytes()
                  + ", down sent "
                  + downSent.bytes()
                  + " seen "
                  + downSeen.bytes()
                  + "; B "
                  + TcpInfo.of(bFd)
                  + "; client "
                  + TcpInfo.of(clientFd)
                  + "; state "
                  + state
                  + " window "
                  + state.window()
                  + "; B->client "
                  + lab.b.exec("ss", "-tinm").stdout()
                  + "; client "
                  + lab.client.exec("ss", "-tinm").stdout()
                  + "; guard drops "
                  + lab.b.call(lab.guard::droppedPackets),
              e);
        }
      } finally {
        pool.shutdownNow();
      }

      assertThat(upSeen.bytes()).isEqualTo(upSent.bytes());
      assertThat(upSeen.hex()).as("client->server SHA-256").isEqualTo(upSent.hex());
      assertThat(downSeen.bytes()).isEqualTo(downSent.bytes());
      assertThat(downSeen.hex()).as("server->client SHA-256").isEqualTo(downSent.hex());
      Sockets.close(bFd);
      Sockets.close(clientFd);
      lab.a.call(
          () -> {
            Sockets.close(listener);
            return null;
          });
      assertThat(lab.clientRsts.received()).as("RSTs received by the client").isZero();
      assertThat(lab.clientRsts.sent()).as("RSTs sent by the client").isZero();
    }
  }

  @Test
  void curlDownloadsLargeFileServedByTheNewOwner() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("transplant-curl")) {
      int listener = lab.a.call(TwoHostLab::listenOnVip);
      Path out = lab.lab.dir().resolve("download.bin");
      Process curl =
          lab.client.start(
              List.of(
                  "curl",
                  "-sS",
                  "--max-time",
                  "60",
                  "-o",
                  out.toString(),
                  "http://" + TwoHostLab.VIP + ":" + TwoHostLab.PORT + "/big.bin"));
      BlockingFd listen = new BlockingFd(listener, LIMIT);
      awaitTrue(() -> poll(listen.fd(), Sockets.POLLIN) != 0, "curl to connect");
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      byte[] head = readHead(new BlockingFd(aFd, LIMIT));
      assertThat(new String(head, StandardCharsets.US_ASCII))
          .startsWith("GET /big.bin HTTP/1.1\r\n");

      Move move = lab.freezeTowardB(aFd);
      TwoHostLab.Moved moved = lab.moveToB(move, head);

      int size = 48 * MIB;
      BlockingFd bSide = new BlockingFd(moved.restored().fd(), LIMIT);
      byte[] replayed = readHead(bSide);
      assertThat(replayed).as("request head replayed on B").isEqualTo(head);
      StreamDigest body = new StreamDigest();
      byte[] header =
          ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                  + size
                  + "\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII);
      bSide.writeAll(header, 0, header.length);
      pump(bSide, 7, size, body);
      assertThat(curl.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)).as("curl finished").isTrue();
      assertThat(curl.exitValue())
          .as("curl exit; stderr: %s", Files.readString(lab.client.stderrOf(curl)))
          .isZero();
      Sockets.close(bSide.fd());
      StreamDigest downloaded = new StreamDigest();
      byte[] file = Files.readAllBytes(out);
      downloaded.update(file);
      assertThat(file.length).isEqualTo(size);
      assertThat(downloaded.hex()).as("downloaded SHA-256").isEqualTo(body.hex());
      assertThat(lab.clientRsts.received()).isZero();
      assertThat(lab.clientRsts.sent()).isZero();
    }
  }

  /**
   * The one copy of the handoff sequence refuses steps out of order, before touching the socket.
   */
  @Test
  void aMoveKeepsTheHandoffOrder() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("transplant-order")) {
      int listener = lab.a.call(TwoHostLab::listenOnVip);
      int clientFd = lab.client.call(TransplantLabTest::connectToVip);
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      Move move = lab.a.call(() -> Move.start(aFd));
      assertThat(move.flow().localPort()).isEqualTo(TwoHostLab.PORT);
      assertThatThrownBy(() -> lab.a.call(() -> move.export(new byte[0])))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("before its hold");
      assertThatThrownBy(
              () ->
                  lab.a.call(
                      () -> {
                        move.release();
                        return null;
                      }))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("needs EXPORTED");
      assertThat(move.step()).isEqualTo(Move.Step.FROZEN);
      // Taken back before anything moved: the connection works on A.
      lab.a.call(
          () -> {
            move.resume();
            return null;
          });
      BlockingFd client = new BlockingFd(clientFd, LIMIT);
      BlockingFd aSide = new BlockingFd(aFd, LIMIT);
      client.writeAll("ping".getBytes(StandardCharsets.US_ASCII), 0, 4);
      byte[] got = new byte[4];
      aSide.readFully(got);
      assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo("ping");
      assertThat(lab.clientRsts.received()).isZero();
    }
  }

  @Test
  void abandonedMoveResumesOnTheOriginalHost() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("transplant-resume")) {
      int listener = lab.a.call(TwoHostLab::listenOnVip);
      int clientFd = lab.client.call(TransplantLabTest::connectToVip);
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      BlockingFd client = new BlockingFd(clientFd, LIMIT);
      BlockingFd aSide = new BlockingFd(aFd, LIMIT);
      ConnectionExporter.Frozen frozen = lab.a.call(() -> ConnectionExporter.freeze(aFd));
      ConnectionState state = lab.a.call(() -> frozen.export(new byte[0]));
      assertThat(state.flow().localPort()).isEqualTo(TwoHostLab.PORT);
      StreamDigest sent = new StreamDigest();
      StreamDigest seen = new StreamDigest();
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        // The client starts sending while A is still frozen: those segments are dropped and
        // must be retransmitted after the resume.
        Future<?> writer =
            pool.submit(
                () -> {
                  pump(client, 9, 5 * MIB, sent);
                  Sockets.shutdown(clientFd, Sockets.SHUT_WR);
                  return null;
                });
        awaitTrue(() -> ioctl(clientFd, Sockets.SIOCOUTQ) > 0, "client data waiting for ACKs");
        lab.a.call(
            () -> {
              frozen.resume();
              return null;
            });
        Future<?> reader = pool.submit(() -> drain(aSide, seen));
        writer.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        reader.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
      } finally {
        pool.shutdownNow();
      }
      assertThat(seen.hex()).isEqualTo(sent.hex());
      Sockets.close(aFd);
      Sockets.close(clientFd);
      lab.a.call(
          () -> {
            Sockets.close(listener);
            return null;
          });
      assertThat(lab.clientRsts.received()).isZero();
    }
  }

  /**
   * Request then FIN: the client sends its request and shuts its write side down; A has read {@code
   * readByA} bytes of it and is in CLOSE_WAIT. B must hand its application the rest of the request,
   * then end of stream, and its answer must reach the client byte-exact without a reset.
   */
  @ParameterizedTest(name = "A had read {0} of the request")
  @ValueSource(strings = {"none", "part", "all", "part over IPv6"})
  void halfClosedClientIsMovedAndServed(String readByA) throws Exception {
    boolean ipv6 = readByA.endsWith("IPv6");
    try (TwoHostLab lab = new TwoHostLab("transplant-finrecv", ipv6)) {
      int listener = lab.a.call(() -> TwoHostLab.listenOn(lab.vip));
      int clientFd = lab.client.call(() -> TwoHostLab.connectTo(lab.vip));
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      BlockingFd client = new BlockingFd(clientFd, LIMIT);
      BlockingFd aSide = new BlockingFd(aFd, LIMIT);
      byte[] request =
          ("GET /big.bin HTTP/1.1\r\nHost: x\r\nX-Pad: " + "p".repeat(3000) + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII);
      client.writeAll(request, 0, request.length);
      Sockets.shutdown(clientFd, Sockets.SHUT_WR);
      byte[] alreadyRead =
          new byte
              [switch (readByA) {
                case "none" -> 0;
                case "part", "part over IPv6" -> 1000;
                default -> request.length;
              }];
      aSide.readFully(alreadyRead);
      int unread = request.length - alreadyRead.length;
      awaitTrue(() -> TcpInfo.of(aFd).state() == TcpInfo.STATE_CLOSE_WAIT, "A to see the FIN");
      awaitTrue(() -> ioctl(aFd, Sockets.SIOCINQ) == unread, "A's receive queue to hold the rest");
      // A acknowledged the FIN, so the client will not send it again: only B can re-create it.
      awaitTrue(
          () -> TcpInfo.of(clientFd).state() == TcpInfo.STATE_FIN_WAIT2, "the FIN acknowledged");

      Move move = lab.freezeTowardB(aFd);
      TwoHostLab.Moved moved = lab.moveToB(move, alreadyRead);
      assertThat(moved.state().finReceived()).as("FIN recorded in the state").isTrue();
      assertThat(moved.state().flow().ipv6()).isEqualTo(ipv6);
      assertThat(moved.state().receiveQueue()).isEqualTo(request);
      int bFd = moved.restored().fd();
      assertThat(TcpInfo.of(bFd).state())
          .as("B after the restore")
          .isEqualTo(TcpInfo.STATE_CLOSE_WAIT);

      // B's application: the whole request, then end of stream; then a large answer and close.
      BlockingFd bSide = new BlockingFd(bFd, LIMIT);
      byte[] got = new byte[request.length];
      bSide.readFully(got);
      assertThat(got).isEqualTo(request);
      assertThat(bSide.read(new byte[1], 0, 1)).as("end of stream after the request").isEqualTo(-1);
      StreamDigest sent = new StreamDigest();
      StreamDigest seen = new StreamDigest();
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        Future<?> reader = pool.submit(() -> drain(client, seen));
        pool.submit(() -> pump(bSide, 13, 8 * MIB, sent)).get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        reader.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
      } finally {
        pool.shutdownNow();
      }
      assertThat(seen.bytes()).isEqualTo(8L * MIB);
      assertThat(seen.hex()).as("server->client SHA-256").isEqualTo(sent.hex());
      Sockets.close(bFd);
      // FIN_WAIT2 + FIN: the kernel hands the connection to a TIME_WAIT mini-socket, the socket is
      // CLOSE.
      awaitTrue(
          () -> TcpInfo.of(clientFd).state() == TcpInfo.STATE_CLOSE,
          "the client to finish the close");
      Sockets.close(clientFd);
      lab.a.call(
          () -> {
            Sockets.close(listener);
            return null;
          });
      assertThat(lab.clientRsts.received()).as("RSTs received by the client").isZero();
      assertThat(lab.clientRsts.sent()).as("RSTs sent by the client").isZero();
    }
  }

  @Test
  void connectionThisSideHalfClosedIsRefusedAndLeftWorking() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("transplant-halfclosed")) {
      int listener = lab.a.call(TwoHostLab::listenOnVip);
      int clientFd = lab.client.call(TransplantLabTest::connectToVip);
      int aFd = lab.a.call(() -> Sockets.accept(listener, false));
      Sockets.shutdown(aFd, Sockets.SHUT_WR);
      awaitTrue(
          () -> TcpInfo.of(aFd).state() == TcpInfo.STATE_FIN_WAIT2, "the client to ACK A's FIN");
      assertThatThrownBy(() -> lab.a.call(() -> ConnectionExporter.freeze(aFd)))
          .isInstanceOf(TransplantException.class)
          .hasMessageContaining("FIN_WAIT2")
          .hasMessageContaining("this side already sent FIN");
      // Nothing was changed: the client can still send to A on the half-open connection.
      byte[] bye = "bye".getBytes(StandardCharsets.US_ASCII);
      new BlockingFd(clientFd, LIMIT).writeAll(bye, 0, bye.length);
      byte[] got = new byte[3];
      new BlockingFd(aFd, LIMIT).readFully(got);
      assertThat(got).isEqualTo(bye);
      Sockets.close(aFd);
      Sockets.close(clientFd);
      lab.a.call(
          () -> {
            Sockets.close(listener);
            return null;
          });
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  static int connectToVip() throws Exception {
    int fd = Sockets.tcpSocket(false);
    Sockets.connect(fd, new InetSocketAddress(TwoHostLab.ip(TwoHostLab.VIP), TwoHostLab.PORT));
    return fd;
  }

  /** Writes {@code total} seeded random bytes in 64 KiB chunks, feeding {@code digest}. */
  static Void pump(BlockingFd fd, long seed, int total, StreamDigest digest) throws Exception {
    java.util.Random random = new java.util.Random(seed);
    byte[] chunk = new byte[64 * 1024];
    int left = total;
    while (left > 0) {
      random.nextBytes(chunk);
      int n = Math.min(left, chunk.length);
      fd.writeAll(chunk, 0, n);
      digest.update(chunk, 0, n);
      left -= n;
    }
    if (fd.fd() >= 0) Sockets.shutdown(fd.fd(), Sockets.SHUT_WR);
    return null;
  }

  /** Reads to end of stream, feeding {@code digest}. */
  static Void drain(BlockingFd fd, StreamDigest digest) throws Exception {
    byte[] buf = new byte[64 * 1024];
    int n;
    while ((n = fd.read(buf, 0, buf.length)) >= 0) digest.update(buf, 0, n);
    return null;
  }

  /** Queues as much of {@code data} as the socket takes without blocking. */
  static int sendWhatFits(int fd, byte[] data) throws Exception {
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      var buf = arena.allocate(data.length);
      java.lang.foreign.MemorySegment.copy(
          data, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
      Sockets.setNonBlocking(fd, true);
      int done = 0;
      while (done < data.length) {
        int n = Sockets.send(fd, buf.asSlice(done), Sockets.MSG_NOSIGNAL);
        if (n <= 0) break;
        done += n;
      }
      return done;
    }
  }

  static byte[] readHead(BlockingFd fd) throws Exception {
    java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
    byte[] one = new byte[1];
    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      if (fd.read(one, 0, 1) < 0) throw new java.io.IOException("end of stream inside the head");
      head.write(one[0]);
      if (head.size() > 16 * 1024) throw new java.io.IOException("head too large");
    }
    return head.toByteArray();
  }

  static int ioctl(int fd, long request) {
    try {
      return Sockets.ioctlInt(fd, request, Long.toHexString(request));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static int poll(int fd, short events) {
    try {
      return Sockets.poll(fd, events, 100);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  interface Check {
    boolean test() throws Exception;
  }

  static void awaitTrue(Check check, String what) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!check.test()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.onSpinWait();
      Thread.yield();
    }
  }
}
