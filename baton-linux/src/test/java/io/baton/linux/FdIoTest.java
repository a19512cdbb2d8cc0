package io.baton.linux;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Deadline-bounded I/O on raw descriptors, over loopback pairs in a private namespace. */
@PrivateNamespace
class FdIoTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  private static long in(long millis) {
    return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
  }

  @Test
  void writeAllAndReadMoveMoreThanTheSocketBuffersHold() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] data = Loopback.bytes(8 << 20);
            // The writer needs the reader: 8 MiB exceeds what loopback buffers hold at once.
            Thread writer =
                Thread.ofPlatform()
                    .start(
                        () -> {
                          try {
                            FdIo.writeAll(c.client(), data, 0, data.length, in(30_000));
                            Sockets.shutdown(c.client(), Sockets.SHUT_WR);
                          } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                          }
                        });
            byte[] got = new byte[data.length + 10];
            int n = 0;
            long deadline = in(30_000);
            while (true) {
              int r = FdIo.read(c.server(), got, n, got.length - n, deadline);
              if (r < 0) break;
              n += r;
            }
            writer.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(writer.isAlive()).isFalse();
            assertThat(n).isEqualTo(data.length);
            assertThat(java.util.Arrays.copyOf(got, n)).isEqualTo(data);
            // End of stream reads as -1 again.
            assertThat(FdIo.read(c.server(), got, 0, 1, in(1_000))).isEqualTo(-1);
          }
        });
  }

  @Test
  void writeAllHonoursOffsetAndLength() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] src = "xxhello worldyy".getBytes(US_ASCII);
            FdIo.writeAll(c.client(), src, 2, 11, in(5_000));
            FdIo.writeAll(c.client(), src, 0, 0, in(5_000));
            byte[] into = new byte[20];
            assertThat(Loopback.recvExactly(c.server(), 11))
                .isEqualTo("hello world".getBytes(US_ASCII));
            // read() copies to the requested offset and no further than len.
            Loopback.sendAll(c.client(), "abcdef".getBytes(US_ASCII));
            Loopback.await("6 bytes queued", () -> Loopback.inq(c.server()) == 6);
            int r = FdIo.read(c.server(), into, 5, 4, in(5_000));
            assertThat(r).isEqualTo(4);
            assertThat(new String(into, 5, 4, US_ASCII)).isEqualTo("abcd");
            assertThat(into[4]).isZero();
            assertThat(into[9]).isZero();
            assertThat(Loopback.inq(c.server())).isEqualTo(2);
          }
        });
  }

  @Test
  void readOfZeroBytesReturnsZeroAndConsumesNothing() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Loopback.sendAll(c.client(), "z".getBytes(US_ASCII));
            Loopback.await("1 byte queued", () -> Loopback.inq(c.server()) == 1);
            byte[] into = new byte[1];
            assertThat(FdIo.read(c.server(), into, 1, 0, in(5_000))).isZero();
            assertThat(Loopback.inq(c.server())).isEqualTo(1);
          }
        });
  }

  @Test
  void readUntilStopsRightAfterTheTerminator() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Loopback.sendAll(
                c.client(), "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY".getBytes(US_ASCII));
            byte[] head =
                FdIo.readUntil(c.server(), "\r\n\r\n".getBytes(US_ASCII), 1024, in(5_000));
            assertThat(new String(head, US_ASCII)).isEqualTo("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            Loopback.await("the body to be queued", () -> Loopback.inq(c.server()) == 4);
            assertThat(Loopback.recvExactly(c.server(), 4)).isEqualTo("BODY".getBytes(US_ASCII));
          }
        });
  }

  @Test
  void readUntilGivesUpAfterMaxBytes() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Loopback.sendAll(c.client(), "aaaaaaaaaa".getBytes(US_ASCII));
            assertThatThrownBy(
                    () -> FdIo.readUntil(c.server(), "\n".getBytes(US_ASCII), 5, in(5_000)))
                .isInstanceOf(IOException.class)
                .isNotInstanceOf(LinuxException.class)
                .hasMessage("no terminator within 5 bytes");
            // Exactly maxBytes were consumed.
            Loopback.await("the rest to be queued", () -> Loopback.inq(c.server()) == 5);
          }
        });
  }

  @Test
  void readUntilReportsEndOfStreamBeforeTheTerminator() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            Loopback.sendAll(c.client(), "abc".getBytes(US_ASCII));
            Sockets.shutdown(c.client(), Sockets.SHUT_WR);
            assertThatThrownBy(
                    () -> FdIo.readUntil(c.server(), "\n".getBytes(US_ASCII), 100, in(5_000)))
                .isInstanceOf(IOException.class)
                .hasMessage("end of stream after 3 bytes, before the terminator");
          }
        });
  }

  @Test
  void readTimesOutWhenNoDataArrivesBeforeTheDeadline() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> FdIo.read(c.server(), new byte[8], 0, 8, in(150)))
                .isInstanceOf(IOException.class)
                .hasMessage("timed out waiting on fd " + c.server());
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(tookMs).isBetween(140L, 5_000L);
            // A deadline already past fails without waiting.
            assertThatThrownBy(
                    () -> FdIo.read(c.server(), new byte[8], 0, 8, System.nanoTime() - 1))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("timed out");
          }
        });
  }

  @Test
  void writeAllTimesOutWhenThePeerDoesNotRead() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            byte[] tooMuch = new byte[64 << 20];
            assertThatThrownBy(() -> FdIo.writeAll(c.client(), tooMuch, 0, tooMuch.length, in(300)))
                .isInstanceOf(IOException.class)
                .hasMessage("timed out waiting on fd " + c.client());
            assertThat(Loopback.outq(c.client())).isPositive();
          }
        });
  }

  @Test
  void writeAllToAClosedPeerFailsWithTheErrno() throws Exception {
    ns.run(
        () -> {
          Loopback c = Loopback.open();
          try {
            Sockets.close(c.server()); // nothing unread: a FIN, then an RST on our next segment
            byte[] chunk = new byte[1024];
            assertThatThrownBy(
                    () -> {
                      long deadline = in(10_000);
                      while (true) FdIo.writeAll(c.client(), chunk, 0, chunk.length, deadline);
                    })
                .isInstanceOfSatisfying(
                    LinuxException.class,
                    e -> assertThat(e.errno()).isIn(Errno.EPIPE, Errno.ECONNRESET));
          } finally {
            Sockets.closeQuietly(c.client());
            Sockets.closeQuietly(c.listener());
          }
        });
  }
}
