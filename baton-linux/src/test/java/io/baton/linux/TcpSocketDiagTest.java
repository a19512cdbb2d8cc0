package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kernel's own view of a loopback connection's server side through its life: established, then
 * closed by its application with data still unacknowledged (an orphan the kernel goes on sending
 * from), then TIME_WAIT once the client read everything and closed, and a 4-tuple never used.
 */
@PrivateNamespace
class TcpSocketDiagTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  /** 127.0.0.1 (AF_INET) and ::1 (AF_INET6: 16-byte addresses in the lookup). */
  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "::1"})
  void followsAServerSocketPastItsApplicationsClose(String loopback) throws Exception {
    InetAddress address = InetAddress.getByName(loopback);
    StandardProtocolFamily family =
        address instanceof Inet6Address
            ? StandardProtocolFamily.INET6
            : StandardProtocolFamily.INET;
    ns.run(
        () -> {
          try (TcpSocketDiag diag = TcpSocketDiag.open();
              ServerSocketChannel listener = ServerSocketChannel.open(family);
              SocketChannel client = SocketChannel.open(family)) {
            listener.bind(new InetSocketAddress(address, 0));
            // A small receive buffer: the client's window closes long before the server is done.
            client.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
            client.connect(listener.getLocalAddress());
            SocketChannel server = listener.accept();
            var local = (InetSocketAddress) server.getLocalAddress();
            var remote = (InetSocketAddress) server.getRemoteAddress();
            java.util.concurrent.Callable<TcpSocketDiag.Found> serverSide =
                () ->
                    diag.find(
                        local.getAddress(), local.getPort(), remote.getAddress(), remote.getPort());

            TcpSocketDiag.Found open = serverSide.call();
            assertThat(open).isNotNull();
            assertThat(open.state()).isEqualTo(TcpSocketDiag.ESTABLISHED);
            assertThat(open.unacknowledged()).isZero();

            server.configureBlocking(false);
            ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
            long written = 0;
            for (int n; (n = server.write(chunk.clear())) > 0; ) written += n;
            server.close(); // the application is done; the kernel is not

            TcpSocketDiag.Found orphan = serverSide.call();
            assertThat(orphan).isNotNull();
            assertThat(orphan.state()).isEqualTo(TcpSocketDiag.FIN_WAIT1);
            assertThat(orphan.unacknowledged()).isPositive();

            ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
            long read = 0;
            for (int n; (n = client.read(sink.clear())) >= 0; ) read += n;
            assertThat(read).isEqualTo(written);
            client.shutdownOutput(); // its FIN

            long deadline = Loopback.deadline();
            TcpSocketDiag.Found last;
            do {
              last = serverSide.call();
            } while (last != null
                && last.state() != TcpSocketDiag.TIME_WAIT
                && System.nanoTime() < deadline);
            assertThat(last).isNotNull();
            assertThat(last.state()).isEqualTo(TcpSocketDiag.TIME_WAIT);

            assertThat(diag.find(local.getAddress(), 1, remote.getAddress(), remote.getPort()))
                .isNull();
          }
        });
  }
}
