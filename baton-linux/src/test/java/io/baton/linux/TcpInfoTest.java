package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** TCP_INFO decoding, checked against what both ends of a loopback connection must agree on. */
@PrivateNamespace
class TcpInfoTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void establishedConnectionHasLinuxDefaultOptions() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            TcpInfo client = TcpInfo.of(c.client());
            TcpInfo server = TcpInfo.of(c.server());
            for (TcpInfo i : new TcpInfo[] {client, server}) {
              assertThat(i.state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
              assertThat(TcpInfo.stateName(i.state())).isEqualTo("ESTABLISHED");
              assertThat(i.sack()).isTrue();
              assertThat(i.timestamps()).isTrue();
              assertThat(i.windowScaling()).isTrue();
              assertThat(
                      i.options()
                          & (TcpInfo.OPT_SACK | TcpInfo.OPT_TIMESTAMPS | TcpInfo.OPT_WSCALE))
                  .isEqualTo(7);
              // lo's MTU is 65536: MSS 65483 without, 65495 - 12 with timestamps.
              assertThat(i.sndMss()).isBetween(1000, 65495);
              assertThat(i.rtoUs()).isGreaterThanOrEqualTo(200_000);
              assertThat(i.sndCwnd()).isGreaterThanOrEqualTo(1);
              assertThat(i.unacked()).isZero();
              assertThat(i.totalRetrans()).isZero();
            }
            // One side's send scale is the other side's receive scale.
            assertThat(client.sndWscale()).isEqualTo(server.rcvWscale());
            assertThat(server.sndWscale()).isEqualTo(client.rcvWscale());
          }
        });
  }

  @Test
  void windowScaleNibblesAreNotSwapped() throws Exception {
    ns.run(
        () -> {
          int listener = Loopback.listener(false);
          int client = Sockets.tcpSocket(false);
          int server = -1;
          try {
            // A small, locked receive buffer before connect makes the client choose scale 0,
            // while the server keeps the default (7 with Linux's default tcp_rmem).
            Sockets.setInt(client, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, 4096, "SO_RCVBUF");
            Sockets.connect(client, Sockets.localAddress(listener));
            server = Sockets.accept(listener, false);
            TcpInfo ci = TcpInfo.of(client);
            TcpInfo si = TcpInfo.of(server);
            assertThat(ci.rcvWscale()).isZero();
            assertThat(si.sndWscale()).isZero();
            assertThat(si.rcvWscale()).isPositive();
            assertThat(ci.sndWscale()).isEqualTo(si.rcvWscale());
          } finally {
            Sockets.closeQuietly(server);
            Sockets.closeQuietly(client);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void byteCountersMoveByExactlyTheBytesTransferred() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            TcpInfo client0 = TcpInfo.of(c.client());
            TcpInfo server0 = TcpInfo.of(c.server());
            int n = 100_000;
            byte[] data = Loopback.bytes(n);
            Loopback.sendAll(c.client(), data);
            assertThat(Loopback.recvExactly(c.server(), n)).isEqualTo(data);

            Loopback.await(
                "the client to see all " + n + " bytes acknowledged",
                () -> TcpInfo.of(c.client()).bytesAcked() - client0.bytesAcked() >= n);
            TcpInfo client1 = TcpInfo.of(c.client());
            TcpInfo server1 = TcpInfo.of(c.server());
            assertThat(client1.bytesAcked() - client0.bytesAcked()).isEqualTo(n);
            assertThat(client1.bytesSent() - client0.bytesSent()).isEqualTo(n);
            assertThat(client1.bytesRetrans()).isZero();
            assertThat(client1.segsOut()).isGreaterThan(client0.segsOut());
            assertThat(client1.notsentBytes()).isZero();
            assertThat(client1.unacked()).isZero();
            assertThat(server1.bytesReceived() - server0.bytesReceived()).isEqualTo(n);
            assertThat(server1.segsIn()).isGreaterThan(server0.segsIn());
            // Nothing flowed the other way.
            assertThat(server1.bytesSent()).isEqualTo(server0.bytesSent());
            assertThat(client1.bytesReceived()).isEqualTo(client0.bytesReceived());
          }
        });
  }

  @Test
  void listeningUnconnectedAndClosingSocketsReportTheirStates() throws Exception {
    ns.run(
        () -> {
          int fresh = Sockets.tcpSocket(false);
          try {
            assertThat(TcpInfo.of(fresh).state()).isEqualTo(TcpInfo.STATE_CLOSE);
            Sockets.bind(fresh, new InetSocketAddress(Loopback.LOCALHOST, 0));
            Sockets.listen(fresh, 1);
            assertThat(TcpInfo.of(fresh).state()).isEqualTo(TcpInfo.STATE_LISTEN);
          } finally {
            Sockets.close(fresh);
          }

          try (Loopback c = Loopback.open()) {
            Sockets.shutdown(c.client(), Sockets.SHUT_WR);
            Loopback.await(
                "the server to reach CLOSE_WAIT",
                () -> TcpInfo.of(c.server()).state() == TcpInfo.STATE_CLOSE_WAIT);
            Loopback.await(
                "the client to reach FIN_WAIT2",
                () -> TcpInfo.of(c.client()).state() == TcpInfo.STATE_FIN_WAIT2);
            Sockets.shutdown(c.server(), Sockets.SHUT_WR);
            // The TIME_WAIT lives in a mini socket; the descriptor's own socket is closed.
            Loopback.await(
                "the client to reach CLOSE",
                () -> TcpInfo.of(c.client()).state() == TcpInfo.STATE_CLOSE);
            Loopback.await(
                "the server to pass LAST_ACK and close",
                () -> TcpInfo.of(c.server()).state() == TcpInfo.STATE_CLOSE);
          }
        });
  }

  @Test
  void stateNamesMatchTheKernel() {
    assertThat(TcpInfo.stateName(TcpInfo.STATE_ESTABLISHED)).isEqualTo("ESTABLISHED");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_SYN_SENT)).isEqualTo("SYN_SENT");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_SYN_RECV)).isEqualTo("SYN_RECV");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_FIN_WAIT1)).isEqualTo("FIN_WAIT1");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_FIN_WAIT2)).isEqualTo("FIN_WAIT2");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_TIME_WAIT)).isEqualTo("TIME_WAIT");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_CLOSE)).isEqualTo("CLOSE");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_CLOSE_WAIT)).isEqualTo("CLOSE_WAIT");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_LAST_ACK)).isEqualTo("LAST_ACK");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_LISTEN)).isEqualTo("LISTEN");
    assertThat(TcpInfo.stateName(TcpInfo.STATE_CLOSING)).isEqualTo("CLOSING");
    // The kernel's numbering (include/net/tcp_states.h).
    assertThat(
            new int[] {
              TcpInfo.STATE_ESTABLISHED, TcpInfo.STATE_SYN_SENT, TcpInfo.STATE_SYN_RECV,
              TcpInfo.STATE_FIN_WAIT1, TcpInfo.STATE_FIN_WAIT2, TcpInfo.STATE_TIME_WAIT,
              TcpInfo.STATE_CLOSE, TcpInfo.STATE_CLOSE_WAIT, TcpInfo.STATE_LAST_ACK,
              TcpInfo.STATE_LISTEN, TcpInfo.STATE_CLOSING
            })
        .containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    assertThat(TcpInfo.stateName(0)).isEqualTo("STATE_0");
    assertThat(TcpInfo.stateName(12)).isEqualTo("STATE_12");
  }

  @Test
  void tcpInfoOfAnInvalidDescriptorFails() {
    assertThatThrownBy(() -> TcpInfo.of(-1))
        .isInstanceOf(LinuxException.class)
        .hasMessage("getsockopt(TCP_INFO) failed: Bad file descriptor (errno 9)");
  }
}
