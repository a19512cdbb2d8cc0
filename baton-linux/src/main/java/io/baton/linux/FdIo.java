package io.baton.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Blocking-style reads and writes on a raw socket descriptor that never block past a deadline: the
 * descriptor is used non-blocking and waited on with poll(2). For tools, demos and tests that own a
 * raw fd (a restored connection, say) without an event loop.
 *
 * <p>Stateless and thread-safe; one reader and one writer per descriptor at a time.
 */
public final class FdIo {
  private FdIo() {}

  /** Writes all of {@code bytes[off, off+len)}; throws if {@code deadlineNs} (nanoTime) passes. */
  public static void writeAll(int fd, byte[] bytes, int off, int len, long deadlineNs)
      throws IOException {
    if (len == 0) return;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(len);
      MemorySegment.copy(bytes, off, buf, ValueLayout.JAVA_BYTE, 0, len);
      int done = 0;
      while (done < len) {
        int n =
            Sockets.send(
                fd, buf.asSlice(done, len - done), Sockets.MSG_NOSIGNAL | Sockets.MSG_DONTWAIT);
        if (n < 0) {
          await(fd, Sockets.POLLOUT, deadlineNs);
        } else {
          done += n;
        }
      }
    }
  }

  /** Reads up to {@code len} bytes; returns -1 at end of stream. */
  public static int read(int fd, byte[] into, int off, int len, long deadlineNs)
      throws IOException {
    if (len == 0) return 0;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(len);
      while (true) {
        int n = Sockets.recv(fd, buf, Sockets.MSG_DONTWAIT);
        if (n > 0) {
          MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, into, off, n);
          return n;
        }
        if (n == 0) return -1;
        await(fd, Sockets.POLLIN, deadlineNs);
      }
    }
  }

  /**
   * Reads until {@code terminator} has been seen, one byte at a time so nothing past it is
   * consumed; at most {@code maxBytes}.
   */
  public static byte[] readUntil(int fd, byte[] terminator, int maxBytes, long deadlineNs)
      throws IOException {
    byte[] buf = new byte[maxBytes];
    int n = 0;
    while (n < maxBytes) {
      int r = read(fd, buf, n, 1, deadlineNs);
      if (r < 0)
        throw new IOException("end of stream after " + n + " bytes, before the terminator");
      n++;
      if (n >= terminator.length
          && java.util.Arrays.equals(
              buf, n - terminator.length, n, terminator, 0, terminator.length)) {
        return java.util.Arrays.copyOf(buf, n);
      }
    }
    throw new IOException("no terminator within " + maxBytes + " bytes");
  }

  private static void await(int fd, short events, long deadlineNs) throws IOException {
    long leftMs = (deadlineNs - System.nanoTime()) / 1_000_000;
    if (leftMs <= 0) throw new IOException("timed out waiting on fd " + fd);
    Sockets.poll(fd, events, (int) Math.min(leftMs, 1000));
  }
}
