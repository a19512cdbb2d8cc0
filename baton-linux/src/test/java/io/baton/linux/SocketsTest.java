package io.baton.linux;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** The socket wrappers on 127.0.0.1 inside a private namespace. */
@PrivateNamespace
class SocketsTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void localAndPeerAddressesOfBothEndsMatch() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            InetSocketAddress listening = Sockets.localAddress(c.listener());
            assertThat(listening.getAddress()).isEqualTo(Loopback.LOCALHOST);
            assertThat(listening.getPort()).isBetween(1, 65535);

            assertThat(Sockets.peerAddress(c.client())).isEqualTo(listening);
            assertThat(Sockets.localAddress(c.server())).isEqualTo(listening);
            assertThat(Sockets.peerAddress(c.server())).isEqualTo(Sockets.localAddress(c.client()));
            assertThat(Sockets.localAddress(c.client()).getPort())
                .isNotEqualTo(listening.getPort());
          }
        });
  }

  @Test
  void peerAddressOfAnUnconnectedSocketIsEnotconn() throws Exception {
    ns.run(
        () -> {
          int fd = Sockets.tcpSocket(false);
          try {
            assertThatThrownBy(() -> Sockets.peerAddress(fd))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTCONN))
                .hasMessage("getpeername failed: Transport endpoint is not connected (errno 107)");
            // Unbound: the wildcard address, port 0.
            assertThat(Sockets.localAddress(fd))
                .isEqualTo(new InetSocketAddress(InetAddress.getByAddress(new byte[4]), 0));
          } finally {
            Sockets.close(fd);
          }
        });
  }

  @Test
  void peekLeavesTheBytesQueuedAndRecvConsumesThem() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Loopback.sendAll(c.client(), "hello".getBytes(US_ASCII));
            Loopback.await("5 bytes queued at the server", () -> Loopback.inq(c.server()) == 5);

            byte[] peeked =
                Loopback.recvOnce(c.server(), 64, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
            assertThat(new String(peeked, US_ASCII)).isEqualTo("hello");
            assertThat(Loopback.inq(c.server())).isEqualTo(5);

            byte[] read = Loopback.recvOnce(c.server(), 64, Sockets.MSG_DONTWAIT);
            assertThat(new String(read, US_ASCII)).isEqualTo("hello");
            assertThat(Loopback.inq(c.server())).isZero();
          }
        });
  }

  @Test
  void sendQueueIoctlsReadZeroOnceEverythingIsAcknowledged() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            assertThat(Loopback.outq(c.client())).isZero();
            assertThat(Sockets.ioctlInt(c.client(), Sockets.SIOCOUTQNSD, "SIOCOUTQNSD")).isZero();
            byte[] data = Loopback.bytes(3000);
            Loopback.sendAll(c.client(), data);
            assertThat(Loopback.recvExactly(c.server(), data.length)).isEqualTo(data);
            Loopback.await(
                "the client's send queue to drain", () -> Loopback.outq(c.client()) == 0);
            assertThat(Sockets.ioctlInt(c.client(), Sockets.SIOCOUTQNSD, "SIOCOUTQNSD")).isZero();
          }
        });
  }

  @Test
  void nonBlockingRecvReturnsMinusOneAndPollSeesData() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Sockets.setNonBlocking(c.server(), true);
            Sockets.setNonBlocking(c.server(), true); // idempotent
            assertThat(Loopback.recvOnce(c.server(), 16, 0)).isNull();
            assertThat(Sockets.poll(c.server(), Sockets.POLLIN, 20)).isZero();
            // An established socket with room in its send buffer is writable at once.
            assertThat(Sockets.poll(c.server(), Sockets.POLLOUT, 0) & Sockets.POLLOUT)
                .isEqualTo(Sockets.POLLOUT);

            Loopback.sendAll(c.client(), new byte[] {42});
            int revents = Sockets.poll(c.server(), Sockets.POLLIN, 10_000);
            assertThat(revents & Sockets.POLLIN).isEqualTo(Sockets.POLLIN);
            assertThat(Loopback.recvOnce(c.server(), 16, 0)).containsExactly(42);

            // Back to blocking: still works, data is read normally.
            Sockets.setNonBlocking(c.server(), false);
            Loopback.sendAll(c.client(), new byte[] {7, 8});
            Loopback.await("2 bytes queued", () -> Loopback.inq(c.server()) == 2);
            assertThat(Loopback.recvOnce(c.server(), 16, 0)).containsExactly(7, 8);
          }
        });
  }

  @Test
  void endOfStreamReadsAsZeroAndPollReportsIt() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Sockets.shutdown(c.client(), Sockets.SHUT_WR);
            assertThat(Sockets.poll(c.server(), Sockets.POLLIN, 10_000) & Sockets.POLLIN)
                .isEqualTo(Sockets.POLLIN);
            assertThat(Loopback.recvOnce(c.server(), 16, Sockets.MSG_DONTWAIT)).isEmpty();
          }
        });
  }

  @Test
  void intOptionsRoundTrip() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            int fd = c.client();
            assertThat(Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, "TCP_NODELAY"))
                .isZero();
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1, "TCP_NODELAY");
            assertThat(Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, "TCP_NODELAY"))
                .isEqualTo(1);
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 0, "TCP_NODELAY");
            assertThat(Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, "TCP_NODELAY"))
                .isZero();

            Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_MARK, 0x1234, "SO_MARK");
            assertThat(Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_MARK, "SO_MARK"))
                .isEqualTo(0x1234);
            assertThat(Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR"))
                .isZero();
          }
        });
  }

  @Test
  void nonBlockingAcceptWithNothingQueuedReturnsMinusOne() throws Exception {
    ns.run(
        () -> {
          int listener = Loopback.listener(true);
          int client = Sockets.tcpSocket(false);
          try {
            assertThat(Sockets.accept(listener, false)).isEqualTo(-1);
            Sockets.connect(client, Sockets.localAddress(listener));
            assertThat(Sockets.poll(listener, Sockets.POLLIN, 10_000) & Sockets.POLLIN)
                .isEqualTo(Sockets.POLLIN);
            int server = Sockets.accept(listener, true);
            try {
              assertThat(server).isGreaterThanOrEqualTo(0);
              // The child is non-blocking as asked: an empty read does not block.
              assertThat(Loopback.recvOnce(server, 8, 0)).isNull();
              assertThat(Sockets.accept(listener, false)).isEqualTo(-1);
            } finally {
              Sockets.close(server);
            }
          } finally {
            Sockets.closeQuietly(client);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void nonBlockingConnectCompletesAndBecomesWritable() throws Exception {
    ns.run(
        () -> {
          int listener = Loopback.listener(false);
          int client = Sockets.tcpSocket(true);
          try {
            boolean done = Sockets.connect(client, Sockets.localAddress(listener));
            if (!done) {
              assertThat(Sockets.poll(client, Sockets.POLLOUT, 10_000) & Sockets.POLLOUT)
                  .isEqualTo(Sockets.POLLOUT);
            }
            assertThat(Sockets.getInt(client, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR"))
                .isZero();
            assertThat(TcpInfo.of(client).state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
            assertThat(Sockets.peerAddress(client)).isEqualTo(Sockets.localAddress(listener));
          } finally {
            Sockets.closeQuietly(client);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void listenOnAConnectedSocketFailsWithEinval() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            assertThatThrownBy(() -> Sockets.listen(c.client(), 1))
                .isInstanceOf(LinuxException.class)
                .hasMessage("listen failed: Invalid argument (errno 22)");
          }
        });
  }

  @Test
  void sockaddrEncodesFamilyPortAndAddressOfBothFamilies() throws Exception {
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      var a = new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 1, 2, 3}), 0x1F90);
      var sa = Sockets.sockaddr(arena, a);
      assertThat(sa.byteSize()).isEqualTo(16);
      byte[] raw = sa.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
      // sin_family AF_INET (host order), sin_port 8080 (network order), sin_addr, zero padding
      assertThat(raw).containsExactly(2, 0, 0x1F, (byte) 0x90, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0);
      assertThat(Sockets.fromSockaddr(sa)).isEqualTo(a);
      assertThat(Sockets.text(a)).isEqualTo("10.1.2.3:8080");

      var v6 = new InetSocketAddress(InetAddress.ofLiteral("2001:2::100"), 0x1F90);
      var sa6 = Sockets.sockaddr(arena, v6);
      assertThat(sa6.byteSize()).isEqualTo(28);
      byte[] raw6 = sa6.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
      // sin6_family AF_INET6 (10, host order), sin6_port, sin6_flowinfo 0, sin6_addr, scope 0
      assertThat(raw6)
          .containsExactly(
              10,
              0,
              0x1F,
              (byte) 0x90,
              0,
              0,
              0,
              0,
              0x20,
              0x01,
              0,
              2,
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              0,
              1,
              0,
              0,
              0,
              0,
              0);
      assertThat(Sockets.fromSockaddr(sa6)).isEqualTo(v6);
      assertThat(Sockets.text(v6)).isEqualTo("[2001:2::100]:8080");
      assertThat(Sockets.familyOf(v6.getAddress())).isEqualTo(Sockets.AF_INET6);
    }
  }

  @Test
  void anIpv6ConnectionReportsItsAddressesAndCarriesBytes() throws Exception {
    ns.run(
        () -> {
          InetAddress loopback6 = InetAddress.ofLiteral("::1");
          int listener = Sockets.tcpSocketFor(loopback6, false);
          int client = -1;
          int server = -1;
          try {
            assertThat(Sockets.getInt(listener, Sockets.SOL_IPV6, Sockets.IPV6_V6ONLY, "V6ONLY"))
                .isEqualTo(1);
            Sockets.bind(listener, new InetSocketAddress(loopback6, 0));
            Sockets.listen(listener, 4);
            InetSocketAddress listening = Sockets.localAddress(listener);
            assertThat(listening.getAddress()).isEqualTo(loopback6);
            client = Sockets.tcpSocket(Sockets.AF_INET6, false);
            Sockets.setTransparent(client, Sockets.AF_INET6);
            assertThat(Sockets.connect(client, listening)).isTrue();
            server = Sockets.accept(listener, false);
            assertThat(Sockets.peerAddress(client)).isEqualTo(listening);
            assertThat(Sockets.peerAddress(server)).isEqualTo(Sockets.localAddress(client));
            Loopback.sendAll(client, "hello6".getBytes(US_ASCII));
            assertThat(new String(Loopback.recvExactly(server, 6), US_ASCII)).isEqualTo("hello6");
          } finally {
            Sockets.closeQuietly(server);
            Sockets.closeQuietly(client);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void closeQuietlyIgnoresNegativeDescriptors() {
    Sockets.closeQuietly(-1);
    assertThatThrownBy(() -> Sockets.close(-1))
        .isInstanceOf(LinuxException.class)
        .hasMessage("close(-1) failed: Bad file descriptor (errno 9)");
  }
}
