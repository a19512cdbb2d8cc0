package io.baton.linux;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** The TCP_REPAIR mechanics on loopback connections in a private namespace. */
@PrivateNamespace
class TcpRepairTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  private static int repairFlag(int fd) throws LinuxException {
    return Sockets.getInt(fd, Sockets.IPPROTO_TCP, TcpRepair.TCP_REPAIR, "TCP_REPAIR");
  }

  private static int seqOf(int fd, int queue) throws LinuxException {
    TcpRepair.selectQueue(fd, queue);
    return TcpRepair.queueSeq(fd);
  }

  @Test
  void repairModeSwitchesOnAndOff() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            int fd = c.server();
            assertThat(repairFlag(fd)).isZero();
            TcpRepair.on(fd);
            assertThat(repairFlag(fd)).isEqualTo(1);
            TcpRepair.off(fd, false);
            assertThat(repairFlag(fd)).isZero();
            TcpRepair.on(fd);
            TcpRepair.off(fd, true);
            assertThat(repairFlag(fd)).isZero();
            // Still a working connection afterwards.
            Loopback.sendAll(c.client(), "ok".getBytes(US_ASCII));
            assertThat(Loopback.recvExactly(fd, 2)).isEqualTo("ok".getBytes(US_ASCII));
          }
        });
  }

  @Test
  void queueSequenceNumbersFollowTheByteCounters() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Integer serverIrs = null;
            Integer clientIss = null;
            for (int round = 0; round < 3; round++) {
              byte[] data = Loopback.bytes(1000 + 777 * round);
              Loopback.sendAll(c.client(), data);
              assertThat(Loopback.recvExactly(c.server(), data.length)).isEqualTo(data);
              Loopback.await("all bytes acknowledged", () -> Loopback.outq(c.client()) == 0);

              TcpRepair.on(c.server());
              TcpRepair.on(c.client());
              try {
                int rcvNxt = seqOf(c.server(), TcpRepair.TCP_RECV_QUEUE);
                int writeSeq = seqOf(c.client(), TcpRepair.TCP_SEND_QUEUE);
                // Everything was delivered: the client's next sequence is the server's next
                // expected.
                assertThat(writeSeq).isEqualTo(rcvNxt);
                // rcv_nxt = initial sequence + 1 (the SYN) + bytes received: the ISN is stable.
                int irs = (int) (rcvNxt - TcpInfo.of(c.server()).bytesReceived() - 1);
                // tcpi_bytes_acked counts the acknowledged SYN too: write_seq = ISN + bytes acked.
                int iss = (int) (writeSeq - TcpInfo.of(c.client()).bytesAcked());
                if (serverIrs == null) {
                  serverIrs = irs;
                  clientIss = iss;
                }
                assertThat(irs)
                    .as("server's initial receive sequence, round %d", round)
                    .isEqualTo(serverIrs);
                assertThat(iss)
                    .as("client's initial send sequence, round %d", round)
                    .isEqualTo(clientIss);
                assertThat(iss).isEqualTo(irs);
                // And the other direction, where nothing was sent.
                assertThat(seqOf(c.server(), TcpRepair.TCP_SEND_QUEUE))
                    .isEqualTo(seqOf(c.client(), TcpRepair.TCP_RECV_QUEUE));
                TcpRepair.selectQueue(c.server(), TcpRepair.TCP_NO_QUEUE);
                assertThatThrownBy(() -> TcpRepair.queueSeq(c.server()))
                    .isInstanceOfSatisfying(
                        LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
              } finally {
                TcpRepair.off(c.server(), false);
                TcpRepair.off(c.client(), false);
              }
            }
          }
        });
  }

  @Test
  void inRepairModeTheReceiveQueueCanOnlyBePeeked() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] unread = "unread bytes".getBytes(US_ASCII);
            Loopback.sendAll(c.client(), unread);
            Loopback.await("the bytes queued", () -> Loopback.inq(c.server()) == unread.length);

            TcpRepair.on(c.server());
            assertThatThrownBy(() -> Loopback.recvOnce(c.server(), 64, Sockets.MSG_DONTWAIT))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPERM))
                .hasMessage("recv failed: Operation not permitted (errno 1)");
            TcpRepair.selectQueue(c.server(), TcpRepair.TCP_NO_QUEUE);
            assertThatThrownBy(
                    () ->
                        Loopback.recvOnce(c.server(), 64, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));

            TcpRepair.selectQueue(c.server(), TcpRepair.TCP_RECV_QUEUE);
            byte[] peeked =
                Loopback.recvOnce(c.server(), 64, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
            assertThat(peeked).isEqualTo(unread);
            assertThat(Loopback.inq(c.server())).isEqualTo(unread.length);
            TcpRepair.off(c.server(), false);

            assertThat(Loopback.recvExactly(c.server(), unread.length)).isEqualTo(unread);
          }
        });
  }

  @Test
  void inRepairModeTheUnacknowledgedSendQueueCanBePeeked() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] inFlight = "in flight".getBytes(US_ASCII);
            SocketFilters.attachDropAll(c.server());
            Loopback.sendAll(c.client(), inFlight);
            Loopback.await(
                "the bytes to wait in the send queue",
                () -> Loopback.outq(c.client()) == inFlight.length);

            TcpRepair.on(c.client());
            TcpRepair.selectQueue(c.client(), TcpRepair.TCP_SEND_QUEUE);
            byte[] peeked =
                Loopback.recvOnce(c.client(), 64, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
            assertThat(peeked).isEqualTo(inFlight);
            TcpRepair.off(c.client(), false);

            SocketFilters.detach(c.server());
            assertThat(Loopback.recvExactly(c.server(), inFlight.length)).isEqualTo(inFlight);
          }
        });
  }

  @Test
  void repairOnlyOperationsNeedRepairMode() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            int fd = c.server();
            assertThatThrownBy(() -> TcpRepair.selectQueue(fd, TcpRepair.TCP_RECV_QUEUE))
                .isInstanceOf(LinuxException.class)
                .hasMessage(
                    "setsockopt(TCP_REPAIR_QUEUE) failed: Operation not permitted (errno 1)");
            assertThatThrownBy(() -> TcpRepair.window(fd))
                .isInstanceOf(LinuxException.class)
                .hasMessage(
                    "getsockopt(TCP_REPAIR_WINDOW) failed: Operation not permitted (errno 1)");
            assertThatThrownBy(() -> TcpRepair.setTimestamp(fd, 1))
                .isInstanceOf(LinuxException.class)
                .hasMessage("setsockopt(TCP_TIMESTAMP) failed: Operation not permitted (errno 1)");
            assertThatThrownBy(() -> TcpRepair.setOptions(fd, TcpRepair.TCPOPT_SACK_PERM, 0))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> assertThat(e.call()).isEqualTo("setsockopt(TCP_REPAIR_OPTIONS)"));
          }
        });
  }

  @Test
  void setQueueSeqOnAnEstablishedSocketFailsClearly() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            TcpRepair.on(c.server());
            TcpRepair.selectQueue(c.server(), TcpRepair.TCP_SEND_QUEUE);
            assertThatThrownBy(() -> TcpRepair.setQueueSeq(c.server(), 12345))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.errno()).isEqualTo(Errno.EPERM);
                      assertThat(e.call()).isEqualTo("setsockopt(TCP_QUEUE_SEQ)");
                      assertThat(e.getMessage())
                          .isEqualTo(
                              "setsockopt(TCP_QUEUE_SEQ) failed: Operation not permitted (errno 1)");
                    });
            TcpRepair.off(c.server(), false);
          }
        });
  }

  @Test
  void windowIsPlausibleAndRoundTrips() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] data = Loopback.bytes(5000);
            Loopback.sendAll(c.client(), data);
            assertThat(Loopback.recvExactly(c.server(), data.length)).isEqualTo(data);
            Loopback.await("all bytes acknowledged", () -> Loopback.outq(c.client()) == 0);
            TcpRepair.on(c.client());
            TcpRepair.on(c.server());
            try {
              // The client's send window is the window the server advertised last.
              Loopback.await(
                  "the client's send window to equal the server's receive window",
                  () ->
                      TcpRepair.window(c.client()).sndWnd()
                          == TcpRepair.window(c.server()).rcvWnd());
              TcpRepair.Window server = TcpRepair.window(c.server());
              TcpRepair.Window client = TcpRepair.window(c.client());
              assertThat(server.rcvWnd()).isPositive();
              assertThat(client.sndWnd()).isPositive();
              assertThat(Integer.compareUnsigned(client.maxWindow(), client.sndWnd()))
                  .isGreaterThanOrEqualTo(0);
              // rcv_wup is where the server last advertised from; with everything read it is
              // rcv_nxt.
              int rcvNxt = seqOf(c.server(), TcpRepair.TCP_RECV_QUEUE);
              assertThat(server.rcvWup()).isEqualTo(rcvNxt);
              // snd_wl1 is the sequence of the segment that last updated the client's window,
              // which cannot be past what the client has received.
              assertThat(client.sndWl1() - seqOf(c.client(), TcpRepair.TCP_RECV_QUEUE))
                  .isLessThanOrEqualTo(0);

              TcpRepair.setWindow(c.server(), server);
              assertThat(TcpRepair.window(c.server())).isEqualTo(server);

              TcpRepair.Window bad =
                  new TcpRepair.Window(
                      server.sndWl1(),
                      server.sndWnd(),
                      server.maxWindow(),
                      server.rcvWnd(),
                      rcvNxt + 100_000);
              assertThatThrownBy(() -> TcpRepair.setWindow(c.server(), bad))
                  .isInstanceOf(LinuxException.class)
                  .hasMessage("setsockopt(TCP_REPAIR_WINDOW) failed: Invalid argument (errno 22)");
            } finally {
              TcpRepair.off(c.client(), false);
              TcpRepair.off(c.server(), false);
            }
          }
        });
  }

  @Test
  void timestampAndMaxSegmentAreReadable() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            int fd = c.server();
            assertThat(TcpRepair.maxSegment(fd)).isEqualTo(TcpInfo.of(fd).sndMss());
            int t0 = TcpRepair.timestamp(fd);
            Loopback.await(
                "the TCP timestamp clock to tick", () -> TcpRepair.timestamp(fd) - t0 > 0);

            TcpRepair.on(fd);
            int wanted = t0 + 1_000_000;
            TcpRepair.setTimestamp(fd, wanted);
            int now = TcpRepair.timestamp(fd) - wanted;
            assertThat(now).as("ms since the timestamp was set").isBetween(0, 5_000);
            TcpRepair.off(fd, false);
          }
        });
  }

  @Test
  void setOptionsNeedsCodeValuePairs() {
    assertThatThrownBy(() -> TcpRepair.setOptions(0, TcpRepair.TCPOPT_MSS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("options come in code/value pairs");
    assertThatThrownBy(() -> TcpRepair.setOptions(0, 1, 2, 3))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TcpRepair.setOptions(0)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * The whole point of the door: an idle connection's server side is frozen, its state read, the
   * socket dropped silently, and a new socket rebuilt from that state carries on the conversation
   * with a client that never noticed.
   */
  @Test
  void anIdleConnectionRestoredIntoANewSocketKeepsTalking() throws Exception {
    ns.run(
        () -> {
          // Not try-with-resources: the server descriptor is closed mid-test and must not be
          // closed twice (its number may be reused by then).
          Loopback c = Loopback.open();
          boolean oldClosed = false;
          try {
            byte[] before = Loopback.bytes(4321);
            Loopback.sendAll(c.client(), before);
            assertThat(Loopback.recvExactly(c.server(), before.length)).isEqualTo(before);
            Loopback.sendAll(c.server(), "pong".getBytes(US_ASCII));
            assertThat(Loopback.recvExactly(c.client(), 4)).isEqualTo("pong".getBytes(US_ASCII));
            Loopback.await(
                "both send queues to drain",
                () -> Loopback.outq(c.client()) == 0 && Loopback.outq(c.server()) == 0);

            // Export.
            int old = c.server();
            SocketFilters.attachDropAll(old);
            TcpRepair.on(old);
            InetSocketAddress local = Sockets.localAddress(old);
            InetSocketAddress peer = Sockets.peerAddress(old);
            TcpInfo info = TcpInfo.of(old);
            int rcvSeq = seqOf(old, TcpRepair.TCP_RECV_QUEUE);
            int sndSeq = seqOf(old, TcpRepair.TCP_SEND_QUEUE);
            TcpRepair.selectQueue(old, TcpRepair.TCP_NO_QUEUE);
            int mss = TcpRepair.maxSegment(old);
            int ts = TcpRepair.timestamp(old);
            TcpRepair.Window window = TcpRepair.window(old);
            assertThat(Loopback.inq(old)).isZero();
            assertThat(Loopback.outq(old)).isZero();
            oldClosed = true;
            Sockets.close(old); // in repair mode: no FIN, no RST

            // Restore.
            int fresh = Sockets.tcpSocket(false);
            try {
              TcpRepair.on(fresh);
              TcpRepair.selectQueue(fresh, TcpRepair.TCP_RECV_QUEUE);
              TcpRepair.setQueueSeq(fresh, rcvSeq);
              TcpRepair.selectQueue(fresh, TcpRepair.TCP_SEND_QUEUE);
              TcpRepair.setQueueSeq(fresh, sndSeq);
              Sockets.bind(fresh, local); // the listener still holds the port: repair forces reuse
              assertThat(Sockets.connect(fresh, peer)).isTrue(); // no SYN in repair mode
              TcpRepair.setOptions(
                  fresh,
                  TcpRepair.TCPOPT_MSS,
                  mss,
                  TcpRepair.TCPOPT_WINDOW,
                  info.sndWscale() | (info.rcvWscale() << 16),
                  TcpRepair.TCPOPT_SACK_PERM,
                  0,
                  TcpRepair.TCPOPT_TIMESTAMP,
                  0);
              TcpRepair.setTimestamp(fresh, ts);
              TcpRepair.selectQueue(fresh, TcpRepair.TCP_NO_QUEUE);
              TcpRepair.setWindow(fresh, window);
              TcpRepair.off(fresh, true);

              TcpInfo restored = TcpInfo.of(fresh);
              assertThat(restored.state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
              assertThat(restored.sndWscale()).isEqualTo(info.sndWscale());
              assertThat(restored.rcvWscale()).isEqualTo(info.rcvWscale());
              assertThat(restored.sack()).isTrue();
              assertThat(restored.timestamps()).isTrue();
              assertThat(Sockets.localAddress(fresh)).isEqualTo(local);
              assertThat(Sockets.peerAddress(fresh)).isEqualTo(peer);

              byte[] after = Loopback.bytes(70_000);
              Loopback.sendAll(c.client(), after);
              assertThat(Loopback.recvExactly(fresh, after.length)).isEqualTo(after);
              Loopback.sendAll(fresh, "still here".getBytes(US_ASCII));
              assertThat(Loopback.recvExactly(c.client(), 10))
                  .isEqualTo("still here".getBytes(US_ASCII));
              assertThat(TcpInfo.of(c.client()).state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
            } finally {
              Sockets.closeQuietly(fresh);
            }
          } finally {
            Sockets.closeQuietly(c.client());
            if (!oldClosed) Sockets.closeQuietly(c.server());
            Sockets.closeQuietly(c.listener());
          }
        });
  }
}
