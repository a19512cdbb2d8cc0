package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** The door's error reporting: the call, the errno and the kernel's text, in one message. */
@PrivateNamespace
class LinuxExceptionTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @Test
  void bindToAnAddressInUseNamesTheAddressAndEaddrinuse() throws Exception {
    ns.run(
        () -> {
          int listener = Loopback.listener(false);
          int other = Sockets.tcpSocket(false);
          try {
            int port = Sockets.localAddress(listener).getPort();
            assertThatThrownBy(
                    () -> Sockets.bind(other, new InetSocketAddress(Loopback.LOCALHOST, port)))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.getMessage())
                          .isEqualTo(
                              "bind(127.0.0.1:"
                                  + port
                                  + ") failed: Address already in use (errno 98)");
                      assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE).isEqualTo(98);
                      assertThat(e.call()).isEqualTo("bind(127.0.0.1:" + port + ")");
                    });
          } finally {
            Sockets.closeQuietly(other);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void connectToAPortWithoutListenerIsRefused() throws Exception {
    ns.run(
        () -> {
          // A bound socket that never listens keeps the port taken, so nobody else can listen
          // there.
          int holder = Sockets.tcpSocket(false);
          int client = Sockets.tcpSocket(false);
          try {
            Sockets.bind(holder, new InetSocketAddress(Loopback.LOCALHOST, 0));
            InetSocketAddress target = Sockets.localAddress(holder);
            assertThatThrownBy(() -> Sockets.connect(client, target))
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> {
                      assertThat(e.errno()).isEqualTo(Errno.ECONNREFUSED);
                      assertThat(e.getMessage())
                          .isEqualTo(
                              "connect(127.0.0.1:"
                                  + target.getPort()
                                  + ") failed: Connection refused (errno 111)");
                    });
          } finally {
            Sockets.closeQuietly(client);
            Sockets.closeQuietly(holder);
          }
        });
  }

  @Test
  void setsockoptOnAnInvalidDescriptorIsEbadf() {
    assertThatThrownBy(
            () -> Sockets.setInt(-1, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1, "TCP_NODELAY"))
        .isInstanceOfSatisfying(
            LinuxException.class,
            e -> {
              assertThat(e.errno()).isEqualTo(9);
              assertThat(e.call()).isEqualTo("setsockopt(TCP_NODELAY)");
              assertThat(e.getMessage())
                  .isEqualTo("setsockopt(TCP_NODELAY) failed: Bad file descriptor (errno 9)");
            });
  }

  @Test
  void getsockoptAndIoctlOnAnInvalidDescriptorNameTheirOption() {
    assertThatThrownBy(() -> Sockets.ioctlInt(-1, Sockets.SIOCINQ, "SIOCINQ"))
        .isInstanceOf(LinuxException.class)
        .hasMessage("ioctl(SIOCINQ) failed: Bad file descriptor (errno 9)");
    assertThatThrownBy(() -> Sockets.getInt(-1, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, "TCP_INFO"))
        .isInstanceOf(LinuxException.class)
        .hasMessage("getsockopt(TCP_INFO) failed: Bad file descriptor (errno 9)");
  }

  @Test
  void describeGivesTheKernelTextAndTheNumber() {
    assertThat(Errno.describe(0)).isEqualTo("no errno");
    assertThat(Errno.describe(Errno.EINVAL)).isEqualTo("Invalid argument (errno 22)");
    assertThat(Errno.describe(Errno.EPERM)).isEqualTo("Operation not permitted (errno 1)");
    assertThat(Errno.describe(Errno.ECONNRESET)).isEqualTo("Connection reset by peer (errno 104)");
    assertThat(Errno.describe(4242)).isEqualTo("Unknown error 4242 (errno 4242)");
    assertThat(Errno.describe(-7)).endsWith("(errno -7)").startsWith("Unknown error");
  }

  @Test
  void detailConstructorCarriesNoErrno() {
    LinuxException e = new LinuxException("nft", "Error: syntax error");
    assertThat(e).isInstanceOf(IOException.class);
    assertThat(e.errno()).isZero();
    assertThat(e.call()).isEqualTo("nft");
    assertThat(e.getMessage()).isEqualTo("nft failed: Error: syntax error");
    assertThat(new LinuxException("close(3)", 0).getMessage())
        .isEqualTo("close(3) failed: no errno");
  }
}
