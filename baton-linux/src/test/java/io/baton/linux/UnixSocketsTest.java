package io.baton.linux;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seqpacket sockets that pass descriptors, on the real kernel: a TCP socket passed with bytes in
 * its receive queue is the same connection on the other side, queue included.
 */
@PrivateNamespace
class UnixSocketsTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  @TempDir Path dir;

  @Test
  void aPassedTcpSocketKeepsItsQueuedBytesAndMessagesStayWhole() throws Exception {
    ns.run(
        () -> {
          Path path = dir.resolve("w.sock");
          int listener = UnixSockets.listen(path, 4);
          int agent = UnixSockets.connect(path);
          int worker = UnixSockets.accept(listener);
          try (Loopback tcp = Loopback.open()) {
            Loopback.sendAll(tcp.client(), "queued before the pass".getBytes(US_ASCII));
            // Two messages back to back: each arrives whole and on its own, the first with the
            // descriptor.
            UnixSockets.send(agent, "CONN 1".getBytes(US_ASCII), tcp.server());
            UnixSockets.send(agent, "HELLO again".getBytes(US_ASCII), -1);
            Sockets.close(
                tcp.server()); // the sender's copy; the receiver's keeps the connection open

            UnixSockets.Message first = UnixSockets.receive(worker, 256);
            assertThat(new String(first.bytes(), US_ASCII)).isEqualTo("CONN 1");
            assertThat(first.fd()).isNotNegative();
            UnixSockets.Message second = UnixSockets.receive(worker, 256);
            assertThat(new String(second.bytes(), US_ASCII)).isEqualTo("HELLO again");
            assertThat(second.fd()).isEqualTo(-1);

            int passed = first.fd();
            byte[] got = Loopback.recvExactly(passed, 22);
            assertThat(new String(got, US_ASCII)).isEqualTo("queued before the pass");
            Loopback.sendAll(passed, "answer".getBytes(US_ASCII));
            assertThat(new String(Loopback.recvExactly(tcp.client(), 6), US_ASCII))
                .isEqualTo("answer");
            Sockets.close(passed);

            // The agent's end closed: the worker reads the end.
            Sockets.close(agent);
            assertThat(UnixSockets.receive(worker, 256).isEnd()).isTrue();
          } finally {
            Sockets.closeQuietly(worker);
            Sockets.closeQuietly(listener);
          }
        });
  }

  @Test
  void aTooLongMessageIsAnErrorAndAStaleSocketFileIsReplacedButNotAnyFile() throws Exception {
    ns.run(
        () -> {
          Path path = dir.resolve("stale.sock");
          int first = UnixSockets.listen(path, 4);
          Sockets.close(first); // leaves the socket file behind, as a killed process does
          int listener = UnixSockets.listen(path, 4);
          int agent = UnixSockets.connect(path);
          int worker = UnixSockets.accept(listener);
          try {
            UnixSockets.send(agent, new byte[300], -1);
            assertThatThrownBy(() -> UnixSockets.receive(worker, 256))
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("longer than 256");
          } finally {
            Sockets.closeQuietly(agent);
            Sockets.closeQuietly(worker);
            Sockets.closeQuietly(listener);
          }
          Path plain = Files.writeString(dir.resolve("plain"), "not a socket");
          assertThatThrownBy(() -> UnixSockets.listen(plain, 4))
              .hasMessageContaining("not a socket");
          assertThat(Files.readString(plain)).isEqualTo("not a socket");
          assertThatThrownBy(() -> UnixSockets.connect(dir.resolve("nobody.sock")))
              .isInstanceOf(LinuxException.class)
              .hasMessageContaining("No such file");
        });
  }
}
