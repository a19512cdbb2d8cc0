package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Unix-domain {@code SOCK_SEQPACKET} sockets that carry open descriptors (SCM_RIGHTS): one message
 * per send, kept whole, with at most one descriptor attached. The JDK's Unix-domain channels cannot
 * pass descriptors, so these are plain calls on raw descriptors, blocking.
 *
 * <p>Stateless and thread-safe.
 */
public final class UnixSockets {
  static final int AF_UNIX = 1;
  static final int SOCK_SEQPACKET = 5;
  static final int SOCK_DGRAM = 2;
  static final int SCM_RIGHTS = 1;
  static final int MSG_TRUNC = 0x20;
  static final int MSG_CTRUNC = 0x8;
  static final int MSG_CMSG_CLOEXEC = 0x40000000;

  /** {@code SO_SNDTIMEO} / {@code SO_RCVTIMEO}: a struct timeval. */
  static final int SO_RCVTIMEO = 20;

  static final int SO_SNDTIMEO = 21;

  /** {@code sizeof(struct sockaddr_un)}; the path is at most 107 bytes plus its NUL. */
  private static final int SOCKADDR_UN_SIZE = 110;

  public static final int MAX_PATH_BYTES = 107;
  // struct msghdr (x86-64 and aarch64): name, namelen, iov, iovlen, control, controllen, flags.
  private static final long MSG_IOV = 16;
  private static final long MSG_IOVLEN = 24;
  private static final long MSG_CONTROL = 32;
  private static final long MSG_CONTROLLEN = 40;
  private static final long MSG_FLAGS = 48;
  private static final long MSGHDR_SIZE = 56;
  // struct cmsghdr: len (size_t), level, type, then the data; CMSG_SPACE(sizeof(int)) = 24.
  private static final long CMSG_SPACE_ONE_FD = 24;
  private static final long CMSG_LEN_ONE_FD = 20;

  private UnixSockets() {}

  /** A message received: its bytes and the descriptor that came with it (-1 when none). */
  public record Message(byte[] bytes, int fd) {
    /** Whether the peer closed the connection (a zero-length read without a descriptor). */
    public boolean isEnd() {
      return bytes.length == 0 && fd < 0;
    }
  }

  /** Connects to the seqpacket listener at {@code path}; blocking, close-on-exec. */
  public static int connect(Path path) throws LinuxException {
    int fd = socket(SOCK_SEQPACKET);
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int r = (int) Libc.CONNECT.invokeExact(st, fd, sockaddr(arena, path), SOCKADDR_UN_SIZE);
      if (r < 0) throw new LinuxException("connect(" + path + ")", Libc.errno(st));
      return fd;
    } catch (Throwable t) {
      Sockets.closeQuietly(fd);
      if (t instanceof LinuxException e) throw e;
      throw Sockets.unexpected("connect", t);
    }
  }

  /**
   * Listens at {@code path}, replacing a stale socket file left by an earlier process (a file that
   * is not a socket is refused).
   */
  public static int listen(Path path, int backlog) throws LinuxException {
    if (java.nio.file.Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      if (!isSocketFile(path))
        throw new LinuxException("bind(" + path + ")", "the path exists and is not a socket");
      unlink(path);
    }
    int fd = socket(SOCK_SEQPACKET);
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int r = (int) Libc.BIND.invokeExact(st, fd, sockaddr(arena, path), SOCKADDR_UN_SIZE);
      if (r < 0) throw new LinuxException("bind(" + path + ")", Libc.errno(st));
      Sockets.listen(fd, backlog);
      return fd;
    } catch (Throwable t) {
      Sockets.closeQuietly(fd);
      if (t instanceof LinuxException e) throw e;
      throw Sockets.unexpected("bind", t);
    }
  }

  /**
   * A datagram socket bound at {@code path} (what systemd's notify socket is), for tests and tools
   * that stand in for systemd; read it with {@link #receive}.
   */
  public static int bindDatagram(Path path) throws LinuxException {
    int fd = socket(SOCK_DGRAM);
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int r = (int) Libc.BIND.invokeExact(st, fd, sockaddr(arena, path), SOCKADDR_UN_SIZE);
      if (r < 0) throw new LinuxException("bind(" + path + ")", Libc.errno(st));
      return fd;
    } catch (Throwable t) {
      Sockets.closeQuietly(fd);
      if (t instanceof LinuxException e) throw e;
      throw Sockets.unexpected("bind", t);
    }
  }

  /** Accepts one connection (blocking). */
  public static int accept(int listener) throws LinuxException {
    return Sockets.accept(listener, false);
  }

  /** Removes the socket file at {@code path}. */
  public static void unlink(Path path) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int r = (int) Libc.UNLINK.invokeExact(st, arena.allocateFrom(path.toString()));
      if (r < 0 && Libc.errno(st) != Errno.ENOENT)
        throw new LinuxException("unlink(" + path + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("unlink", t);
    }
  }

  /** Sets the send and receive timeouts (0: none): a blocked call fails with EAGAIN after them. */
  public static void setTimeouts(int fd, long sendMs, long receiveMs) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment tv = arena.allocate(16, 8);
      tv.set(JAVA_LONG, 0, sendMs / 1000);
      tv.set(JAVA_LONG, 8, (sendMs % 1000) * 1000);
      Sockets.setBytes(fd, Sockets.SOL_SOCKET, SO_SNDTIMEO, tv, "SO_SNDTIMEO");
      tv.set(JAVA_LONG, 0, receiveMs / 1000);
      tv.set(JAVA_LONG, 8, (receiveMs % 1000) * 1000);
      Sockets.setBytes(fd, Sockets.SOL_SOCKET, SO_RCVTIMEO, tv, "SO_RCVTIMEO");
    }
  }

  /**
   * Sends {@code bytes} as one message, with {@code passFd} attached when it is not negative (the
   * receiver gets its own descriptor for the same open socket; the caller still owns its copy).
   */
  public static void send(int fd, byte[] bytes, int passFd) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = arena.allocate(Math.max(1, bytes.length));
      MemorySegment.copy(bytes, 0, data, JAVA_BYTE, 0, bytes.length);
      MemorySegment iov = arena.allocate(16, 8);
      iov.set(ADDRESS, 0, data);
      iov.set(JAVA_LONG, 8, bytes.length);
      MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
      msg.set(ADDRESS, MSG_IOV, iov);
      msg.set(JAVA_LONG, MSG_IOVLEN, 1);
      if (passFd >= 0) {
        MemorySegment control = arena.allocate(CMSG_SPACE_ONE_FD, 8);
        control.set(JAVA_LONG, 0, CMSG_LEN_ONE_FD);
        control.set(JAVA_INT, 8, Sockets.SOL_SOCKET);
        control.set(JAVA_INT, 12, SCM_RIGHTS);
        control.set(JAVA_INT, 16, passFd);
        msg.set(ADDRESS, MSG_CONTROL, control);
        msg.set(JAVA_LONG, MSG_CONTROLLEN, CMSG_SPACE_ONE_FD);
      }
      while (true) {
        var st = Libc.state();
        long r = (long) Libc.SENDMSG.invokeExact(st, fd, msg, Sockets.MSG_NOSIGNAL);
        if (r == bytes.length) return;
        if (r >= 0)
          throw new LinuxException("sendmsg", "sent " + r + " of " + bytes.length + " bytes");
        int errno = Libc.errno(st);
        if (errno == Errno.EINTR) continue;
        throw new LinuxException(passFd >= 0 ? "sendmsg(SCM_RIGHTS)" : "sendmsg", errno);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("sendmsg", t);
    }
  }

  /**
   * Receives one message of at most {@code maxBytes} (blocking), with the descriptor attached to it
   * if any (close-on-exec). A longer message, or more descriptors than one, is an error (and
   * whatever descriptors came are closed): a peer that sends them is not speaking the protocol.
   */
  public static Message receive(int fd, int maxBytes) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = arena.allocate(maxBytes);
      MemorySegment iov = arena.allocate(16, 8);
      iov.set(ADDRESS, 0, data);
      iov.set(JAVA_LONG, 8, maxBytes);
      MemorySegment control = arena.allocate(64, 8);
      MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
      while (true) {
        msg.fill((byte) 0);
        msg.set(ADDRESS, MSG_IOV, iov);
        msg.set(JAVA_LONG, MSG_IOVLEN, 1);
        msg.set(ADDRESS, MSG_CONTROL, control);
        msg.set(JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
        var st = Libc.state();
        long r = (long) Libc.RECVMSG.invokeExact(st, fd, msg, MSG_CMSG_CLOEXEC);
        if (r < 0) {
          int errno = Libc.errno(st);
          if (errno == Errno.EINTR) continue;
          throw new LinuxException("recvmsg", errno);
        }
        int received = receivedFds(msg, control);
        int flags = msg.get(JAVA_INT, MSG_FLAGS);
        if ((flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
          if (received >= 0) Sockets.closeQuietly(received);
          throw new LinuxException(
              "recvmsg",
              (flags & MSG_TRUNC) != 0
                  ? "a message longer than " + maxBytes + " bytes"
                  : "more descriptors than one in a message");
        }
        byte[] bytes = new byte[(int) r];
        MemorySegment.copy(data, JAVA_BYTE, 0, bytes, 0, (int) r);
        return new Message(bytes, received);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("recvmsg", t);
    }
  }

  /**
   * The one descriptor in the control data, or -1; closes any extra and reports them as truncation.
   */
  private static int receivedFds(MemorySegment msg, MemorySegment control) {
    long controlLen = msg.get(JAVA_LONG, MSG_CONTROLLEN);
    int fd = -1;
    long off = 0;
    while (off + 16 <= controlLen) {
      long len = control.get(JAVA_LONG, off);
      if (len < 16) break;
      int level = control.get(JAVA_INT, off + 8);
      int type = control.get(JAVA_INT, off + 12);
      if (level == Sockets.SOL_SOCKET && type == SCM_RIGHTS) {
        for (long p = off + 16; p + 4 <= off + len; p += 4) {
          int got = control.get(JAVA_INT, p);
          if (fd < 0) {
            fd = got;
          } else {
            Sockets.closeQuietly(got);
            msg.set(JAVA_INT, MSG_FLAGS, msg.get(JAVA_INT, MSG_FLAGS) | MSG_CTRUNC);
          }
        }
      }
      off += (len + 7) & ~7L;
    }
    return fd;
  }

  /** A new close-on-exec AF_UNIX socket of {@code type} (SOCK_SEQPACKET, SOCK_DGRAM). */
  static int socket(int type) throws LinuxException {
    String name = type == SOCK_DGRAM ? "SOCK_DGRAM" : "SOCK_SEQPACKET";
    try {
      var st = Libc.state();
      int fd = (int) Libc.SOCKET.invokeExact(st, AF_UNIX, type | Sockets.SOCK_CLOEXEC, 0);
      if (fd < 0) throw new LinuxException("socket(AF_UNIX, " + name + ")", Libc.errno(st));
      return fd;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("socket", t);
    }
  }

  private static MemorySegment sockaddr(Arena arena, Path path) throws LinuxException {
    byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
    if (p.length == 0 || p.length > MAX_PATH_BYTES) {
      throw new LinuxException(
          "sockaddr_un(" + path + ")",
          "a socket path is 1 to " + MAX_PATH_BYTES + " bytes, this one is " + p.length);
    }
    MemorySegment sa = arena.allocate(SOCKADDR_UN_SIZE);
    sa.set(JAVA_SHORT, 0, (short) AF_UNIX);
    MemorySegment.copy(p, 0, sa, JAVA_BYTE, 2, p.length);
    return sa;
  }

  private static boolean isSocketFile(Path path) {
    try {
      return java.nio.file.Files.getAttribute(
                  path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS)
              instanceof Integer mode
          && (mode & 0170000) == 0140000;
    } catch (java.io.IOException | UnsupportedOperationException e) {
      return false;
    }
  }
}
