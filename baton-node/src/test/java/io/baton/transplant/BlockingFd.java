package io.baton.transplant;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/**
 * Test helper: blocking-style reads and writes on a raw socket fd with a deadline, so a test fails
 * with a message instead of hanging. Usable from any thread (a socket keeps the namespace it was
 * created in). One reader and one writer thread at a time.
 */
final class BlockingFd {
  private final int fd;
  private final long deadlineNs;

  BlockingFd(int fd, Duration limit) throws LinuxException {
    this.fd = fd;
    this.deadlineNs = System.nanoTime() + limit.toNanos();
    Sockets.setNonBlocking(fd, true);
  }

  int fd() {
    return fd;
  }

  void writeAll(byte[] bytes, int off, int len) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(Math.max(1, len));
      MemorySegment.copy(bytes, off, buf, ValueLayout.JAVA_BYTE, 0, len);
      int done = 0;
      while (done < len) {
        int n = Sockets.send(fd, buf.asSlice(done, len - done), Sockets.MSG_NOSIGNAL);
        if (n < 0) {
          await(Sockets.POLLOUT);
        } else {
          done += n;
        }
      }
    }
  }

  /** Reads up to {@code len} bytes; returns -1 at end of stream. */
  int read(byte[] into, int off, int len) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(len);
      while (true) {
        int n = Sockets.recv(fd, buf, 0);
        if (n > 0) {
          MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, into, off, n);
          return n;
        }
        if (n == 0) return -1;
        await(Sockets.POLLIN);
      }
    }
  }

  void readFully(byte[] into) throws IOException {
    int done = 0;
    while (done < into.length) {
      int n = read(into, done, into.length - done);
      if (n < 0)
        throw new IOException("end of stream after " + done + " of " + into.length + " bytes");
      done += n;
    }
  }

  private void await(short events) throws IOException {
    long leftMs = (deadlineNs - System.nanoTime()) / 1_000_000;
    if (leftMs <= 0) throw new IOException("deadline passed waiting on fd " + fd);
    Sockets.poll(fd, events, (int) Math.min(leftMs, 1000));
  }
}
