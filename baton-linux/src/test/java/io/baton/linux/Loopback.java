package io.baton.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * A connected loopback pair made with the door's own calls: a listener on 127.0.0.1, a client
 * connected to it and the server side accepted from it. All blocking descriptors. Also the small
 * helpers the tests share: byte I/O with deadlines and waiting for a condition with a deadline.
 */
record Loopback(int listener, int client, int server) implements AutoCloseable {
  static final InetAddress LOCALHOST;

  static {
    try {
      LOCALHOST = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    } catch (UnknownHostException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** A listening socket on 127.0.0.1 with a kernel-chosen port. */
  static int listener(boolean nonBlocking) throws LinuxException {
    int fd = Sockets.tcpSocket(nonBlocking);
    try {
      Sockets.bind(fd, new InetSocketAddress(LOCALHOST, 0));
      Sockets.listen(fd, 16);
      return fd;
    } catch (LinuxException e) {
      Sockets.closeQuietly(fd);
      throw e;
    }
  }

  static Loopback open() throws LinuxException {
    int listener = listener(false);
    int client = -1;
    try {
      client = Sockets.tcpSocket(false);
      boolean connected = Sockets.connect(client, Sockets.localAddress(listener));
      if (!connected) throw new AssertionError("blocking connect reported 'in progress'");
      int server = Sockets.accept(listener, false);
      return new Loopback(listener, client, server);
    } catch (LinuxException | RuntimeException e) {
      Sockets.closeQuietly(client);
      Sockets.closeQuietly(listener);
      throw e;
    }
  }

  @Override
  public void close() {
    Sockets.closeQuietly(client);
    Sockets.closeQuietly(server);
    Sockets.closeQuietly(listener);
  }

  static long deadline() {
    return System.nanoTime() + TIMEOUT.toNanos();
  }

  static void sendAll(int fd, byte[] bytes) throws IOException {
    FdIo.writeAll(fd, bytes, 0, bytes.length, deadline());
  }

  /** Reads exactly {@code n} bytes or fails. */
  static byte[] recvExactly(int fd, int n) throws IOException {
    byte[] out = new byte[n];
    long deadline = deadline();
    int done = 0;
    while (done < n) {
      int r = FdIo.read(fd, out, done, n - done, deadline);
      if (r < 0) throw new IOException("end of stream after " + done + " of " + n + " bytes");
      done += r;
    }
    return out;
  }

  /** One recv(2) of at most {@code max} bytes with {@code flags}; null when it would block. */
  static byte[] recvOnce(int fd, int max, int flags) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(max);
      int n = Sockets.recv(fd, buf, flags);
      return n < 0 ? null : buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
    }
  }

  static int inq(int fd) throws LinuxException {
    return Sockets.ioctlInt(fd, Sockets.SIOCINQ, "SIOCINQ");
  }

  static int outq(int fd) throws LinuxException {
    return Sockets.ioctlInt(fd, Sockets.SIOCOUTQ, "SIOCOUTQ");
  }

  static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) b[i] = (byte) (i * 31 + (i >>> 8));
    return b;
  }

  interface Condition {
    boolean holds() throws Exception;
  }

  /** Polls {@code condition} until it holds; fails naming {@code what} when the deadline passes. */
  static void await(String what, Condition condition) throws Exception {
    await(what, TIMEOUT, condition);
  }

  static void await(String what, Duration timeout, Condition condition) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      LockSupport.parkNanos(1_000_000);
    }
  }

  /**
   * Checks {@code condition} over the whole {@code window} (an observation period, not a wait for
   * something to happen); fails at the first check where it does not hold.
   */
  static void holdsThroughout(String what, Duration window, Condition condition) throws Exception {
    long end = System.nanoTime() + window.toNanos();
    int checks = 0;
    do {
      if (!condition.holds()) {
        throw new AssertionError(what + " stopped holding after " + checks + " checks");
      }
      checks++;
      LockSupport.parkNanos(1_000_000);
    } while (System.nanoTime() - end < 0);
  }
}
