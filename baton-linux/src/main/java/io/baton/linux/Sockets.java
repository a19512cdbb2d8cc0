package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * Checked wrappers over the BSD socket calls, IPv4 and IPv6 (the socket's family follows the
 * address: {@code sockaddr_in} for an {@link Inet4Address}, {@code sockaddr_in6} for an {@link
 * Inet6Address}; a v4-mapped IPv6 address is never produced). Every call either succeeds or throws
 * {@link LinuxException} naming the call; the few calls that have an expected "would block" outcome
 * say so in their return value instead.
 *
 * <p>Stateless and thread-safe; a file descriptor's owner decides which thread uses it.
 */
public final class Sockets {
  // sys/socket.h, bits/socket_type.h
  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_NONBLOCK = 0x800;
  public static final int SOCK_CLOEXEC = 0x80000;
  // asm-generic/socket.h
  public static final int SOL_SOCKET = 1;
  public static final int SO_REUSEADDR = 2;
  public static final int SO_ERROR = 4;
  public static final int SO_SNDBUF = 7;
  public static final int SO_RCVBUF = 8;

  /** As SO_SNDBUF / SO_RCVBUF, past net.core.wmem_max / rmem_max (CAP_NET_ADMIN). */
  public static final int SO_SNDBUFFORCE = 32;

  public static final int SO_RCVBUFFORCE = 33;
  public static final int SO_REUSEPORT = 15;
  public static final int SO_ATTACH_FILTER = 26;
  public static final int SO_DETACH_FILTER = 27;
  public static final int SO_MARK = 36;
  public static final int SO_LINGER = 13;

  /** The interface a socket is bound to, by index; 0 for none. */
  public static final int SO_BINDTOIFINDEX = 62;

  // linux/in.h
  public static final int SOL_IP = 0;
  public static final int IPPROTO_TCP = 6;
  public static final int IP_TRANSPARENT = 19;
  // linux/in6.h
  public static final int SOL_IPV6 = 41;
  public static final int IPV6_V6ONLY = 26;
  public static final int IPV6_TRANSPARENT = 75;
  // linux/tcp.h
  public static final int TCP_NODELAY = 1;
  public static final int TCP_MAXSEG = 2;
  public static final int TCP_INFO = 11;
  public static final int TCP_QUICKACK = 12;
  // sys/socket.h message flags
  public static final int MSG_PEEK = 0x2;
  public static final int MSG_DONTWAIT = 0x40;
  public static final int MSG_NOSIGNAL = 0x4000;
  public static final int SHUT_RD = 0;
  public static final int SHUT_WR = 1;
  public static final int SHUT_RDWR = 2;
  // asm-generic/ioctls.h (SIOCINQ = FIONREAD, SIOCOUTQ = TIOCOUTQ), linux/sockios.h
  public static final long SIOCINQ = 0x541B;
  public static final long SIOCOUTQ = 0x5411;
  public static final long SIOCOUTQNSD = 0x894B;
  // asm-generic/fcntl.h
  static final int F_GETFL = 3;
  static final int F_SETFL = 4;
  static final int O_NONBLOCK = 0x800;
  // poll.h
  public static final short POLLIN = 0x1;
  public static final short POLLOUT = 0x4;
  public static final short POLLERR = 0x8;
  public static final short POLLHUP = 0x10;

  private static final int SOCKADDR_IN_SIZE = 16;
  private static final int SOCKADDR_IN6_SIZE = 28;
  private static final ValueLayout.OfShort NET_SHORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

  private Sockets() {}

  /** A new IPv4 TCP socket, close-on-exec, optionally non-blocking. */
  public static int tcpSocket(boolean nonBlocking) throws LinuxException {
    return tcpSocket(AF_INET, nonBlocking);
  }

  /**
   * A new TCP socket of {@code family} ({@link #AF_INET} or {@link #AF_INET6}), close-on-exec,
   * optionally non-blocking. An AF_INET6 socket is made IPv6-only ({@code IPV6_V6ONLY}): Baton's
   * connections are of one family end to end and never see v4-mapped addresses.
   */
  public static int tcpSocket(int family, boolean nonBlocking) throws LinuxException {
    if (family != AF_INET && family != AF_INET6) {
      throw new IllegalArgumentException("address family " + family + " is not AF_INET/AF_INET6");
    }
    int type = SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0);
    String call =
        family == AF_INET ? "socket(AF_INET, SOCK_STREAM)" : "socket(AF_INET6, SOCK_STREAM)";
    try {
      var st = Libc.state();
      int fd = (int) Libc.SOCKET.invokeExact(st, family, type, 0);
      if (fd < 0) throw new LinuxException(call, Libc.errno(st));
      if (family == AF_INET6) {
        try {
          setInt(fd, SOL_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
        } catch (LinuxException e) {
          closeQuietly(fd);
          throw e;
        }
      }
      return fd;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("socket", t);
    }
  }

  /** A new TCP socket of {@code address}'s family; see {@link #tcpSocket(int, boolean)}. */
  public static int tcpSocketFor(InetAddress address, boolean nonBlocking) throws LinuxException {
    return tcpSocket(familyOf(address), nonBlocking);
  }

  /** {@link #AF_INET} for an IPv4 address, {@link #AF_INET6} for an IPv6 one. */
  public static int familyOf(InetAddress address) {
    return switch (address) {
      case Inet4Address a -> AF_INET;
      case Inet6Address a -> AF_INET6;
      default -> throw new IllegalArgumentException("not an IP address: " + address);
    };
  }

  /**
   * Lets {@code fd} bind a non-local address and be found by nftables' {@code socket transparent}:
   * {@code IP_TRANSPARENT} on an AF_INET socket, {@code IPV6_TRANSPARENT} on an AF_INET6 one (the
   * kernel keeps both in the same socket flag, {@code inet_sk(sk)->transparent}).
   */
  public static void setTransparent(int fd, int family) throws LinuxException {
    if (family == AF_INET6) {
      setInt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1, "IPV6_TRANSPARENT");
    } else {
      setInt(fd, SOL_IP, IP_TRANSPARENT, 1, "IP_TRANSPARENT");
    }
  }

  public static void bind(int fd, InetSocketAddress address) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      MemorySegment sa = sockaddr(arena, address);
      int r = (int) Libc.BIND.invokeExact(st, fd, sa, (int) sa.byteSize());
      if (r < 0) throw new LinuxException("bind(" + text(address) + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("bind", t);
    }
  }

  /**
   * connect(2). Returns true when connected, false when a non-blocking connect is in progress
   * ({@code EINPROGRESS}). In TCP repair mode it completes at once without sending a SYN.
   */
  public static boolean connect(int fd, InetSocketAddress address) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      MemorySegment sa = sockaddr(arena, address);
      int r = (int) Libc.CONNECT.invokeExact(st, fd, sa, (int) sa.byteSize());
      if (r == 0) return true;
      int errno = Libc.errno(st);
      if (errno == Errno.EINPROGRESS) return false;
      throw new LinuxException("connect(" + text(address) + ")", errno);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("connect", t);
    }
  }

  public static void listen(int fd, int backlog) throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.LISTEN.invokeExact(st, fd, backlog);
      if (r < 0) throw new LinuxException("listen", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("listen", t);
    }
  }

  /** accept4(2) with close-on-exec; returns -1 when a non-blocking listener has nothing queued. */
  public static int accept(int fd, boolean nonBlockingChild) throws LinuxException {
    try {
      var st = Libc.state();
      int flags = SOCK_CLOEXEC | (nonBlockingChild ? SOCK_NONBLOCK : 0);
      int r = (int) Libc.ACCEPT4.invokeExact(st, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
      if (r >= 0) return r;
      int errno = Libc.errno(st);
      if (errno == Errno.EAGAIN) return -1;
      throw new LinuxException("accept4", errno);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("accept4", t);
    }
  }

  /**
   * A connection {@link #acceptWithPeer} took from a listener: its socket and the client's address.
   */
  public record Accepted(int fd, InetSocketAddress peer) {}

  /**
   * accept4(2), non-blocking and close-on-exec, with the client's address from the same call (no
   * getpeername). Returns null when the non-blocking listener has nothing queued. The address
   * buffer is this thread's scratch memory: no allocation besides the result.
   */
  public static Accepted acceptWithPeer(int fd) throws LinuxException {
    try {
      MemorySegment sa = Libc.scratch(Libc.Scratch.SOCKADDR, SOCKADDR_IN6_SIZE);
      MemorySegment len = Libc.scratch(Libc.Scratch.LENGTH, 4);
      len.set(JAVA_INT, 0, SOCKADDR_IN6_SIZE);
      var st = Libc.state();
      int r = (int) Libc.ACCEPT4.invokeExact(st, fd, sa, len, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (r < 0) {
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return null;
        throw new LinuxException("accept4", errno);
      }
      try {
        return new Accepted(r, fromSockaddr(sa));
      } catch (LinuxException | RuntimeException e) {
        closeQuietly(r);
        throw e;
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("accept4", t);
    }
  }

  /** What {@link #recv} returns when a non-blocking socket has nothing to read now. */
  public static final int WOULD_BLOCK = -1;

  /** The most one {@link #recv} call reads. */
  public static final int RECV_BUFFER_BYTES = 16_384;

  /** This thread's native buffer for {@link #recv}. */
  private static final ThreadLocal<MemorySegment> RECV_BUFFER =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(RECV_BUFFER_BYTES, 8));

  /**
   * recv(2) of up to {@code min(len, RECV_BUFFER_BYTES)} bytes of a non-blocking socket into {@code
   * into}: the count read, 0 at the end of the stream (the peer's FIN), or {@link #WOULD_BLOCK}.
   * Reads through this thread's native buffer: no allocation per call.
   */
  public static int recv(int fd, byte[] into, int off, int len) throws LinuxException {
    java.util.Objects.checkFromIndexSize(off, len, into.length);
    try {
      MemorySegment buf = RECV_BUFFER.get();
      var st = Libc.state();
      long n =
          (long) Libc.RECV.invokeExact(st, fd, buf, (long) Math.min(len, RECV_BUFFER_BYTES), 0);
      if (n < 0) {
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return WOULD_BLOCK;
        throw new LinuxException("recv", errno);
      }
      MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, into, off, (int) n);
      return (int) n;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("recv", t);
    }
  }

  public static void close(int fd) throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.CLOSE.invokeExact(st, fd);
      if (r < 0) throw new LinuxException("close(" + fd + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("close", t);
    }
  }

  /** Closes and swallows failure; for cleanup paths that already carry an error. */
  public static void closeQuietly(int fd) {
    if (fd < 0) return;
    try {
      close(fd);
    } catch (LinuxException ignored) {
      // nothing more to do: the caller is already unwinding
    }
  }

  /** SO_LINGER {on, 0 s}: the next close(2) sends a RST instead of a FIN. */
  public static void setLingerReset(int fd) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment linger = arena.allocate(8, 4);
      linger.set(ValueLayout.JAVA_INT, 0, 1);
      linger.set(ValueLayout.JAVA_INT, 4, 0);
      setBytes(fd, SOL_SOCKET, SO_LINGER, linger, "SO_LINGER");
    }
  }

  public static void shutdown(int fd, int how) throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.SHUTDOWN.invokeExact(st, fd, how);
      if (r < 0) throw new LinuxException("shutdown", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("shutdown", t);
    }
  }

  public static void setInt(int fd, int level, int option, int value, String optionName)
      throws LinuxException {
    MemorySegment v = Libc.scratch(Libc.Scratch.INT, 4);
    v.set(JAVA_INT, 0, value);
    setBytes(fd, level, option, v, optionName);
  }

  public static int getInt(int fd, int level, int option, String optionName) throws LinuxException {
    MemorySegment v = Libc.scratch(Libc.Scratch.INT, 4);
    v.set(JAVA_INT, 0, 0);
    getBytes(fd, level, option, v, optionName);
    return v.get(JAVA_INT, 0);
  }

  public static void setBytes(int fd, int level, int option, MemorySegment value, String optionName)
      throws LinuxException {
    try {
      var st = Libc.state();
      int r =
          (int) Libc.SETSOCKOPT.invokeExact(st, fd, level, option, value, (int) value.byteSize());
      if (r < 0) throw new LinuxException("setsockopt(" + optionName + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("setsockopt", t);
    }
  }

  /** getsockopt(2) into {@code value}; returns the length the kernel wrote. */
  public static int getBytes(int fd, int level, int option, MemorySegment value, String optionName)
      throws LinuxException {
    try {
      MemorySegment len = Libc.scratch(Libc.Scratch.LENGTH, 4);
      len.set(JAVA_INT, 0, (int) value.byteSize());
      var st = Libc.state();
      int r = (int) Libc.GETSOCKOPT.invokeExact(st, fd, level, option, value, len);
      if (r < 0) throw new LinuxException("getsockopt(" + optionName + ")", Libc.errno(st));
      return len.get(JAVA_INT, 0);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("getsockopt", t);
    }
  }

  public static InetSocketAddress localAddress(int fd) throws LinuxException {
    return name(fd, true);
  }

  public static InetSocketAddress peerAddress(int fd) throws LinuxException {
    return name(fd, false);
  }

  private static InetSocketAddress name(int fd, boolean local) throws LinuxException {
    String call = local ? "getsockname" : "getpeername";
    try {
      MemorySegment sa = Libc.scratch(Libc.Scratch.SOCKADDR, SOCKADDR_IN6_SIZE).fill((byte) 0);
      MemorySegment len = Libc.scratch(Libc.Scratch.LENGTH, 4);
      len.set(JAVA_INT, 0, SOCKADDR_IN6_SIZE);
      var st = Libc.state();
      int r =
          local
              ? (int) Libc.GETSOCKNAME.invokeExact(st, fd, sa, len)
              : (int) Libc.GETPEERNAME.invokeExact(st, fd, sa, len);
      if (r < 0) throw new LinuxException(call, Libc.errno(st));
      return fromSockaddr(sa);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected(call, t);
    }
  }

  /** ioctl(2) whose argument is an {@code int*} result, e.g. {@link #SIOCINQ}. */
  public static int ioctlInt(int fd, long request, String requestName) throws LinuxException {
    try {
      MemorySegment v = Libc.scratch(Libc.Scratch.INT, 4);
      v.set(JAVA_INT, 0, 0);
      var st = Libc.state();
      int r = (int) Libc.IOCTL_PTR.invokeExact(st, fd, request, v);
      if (r < 0) throw new LinuxException("ioctl(" + requestName + ")", Libc.errno(st));
      return v.get(JAVA_INT, 0);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("ioctl", t);
    }
  }

  /** recv(2); returns bytes read, 0 at end of stream, or -1 when it would block. */
  public static int recv(int fd, MemorySegment buffer, int flags) throws LinuxException {
    try {
      var st = Libc.state();
      long r = (long) Libc.RECV.invokeExact(st, fd, buffer, buffer.byteSize(), flags);
      if (r >= 0) return (int) r;
      int errno = Libc.errno(st);
      if (errno == Errno.EAGAIN) return -1;
      throw new LinuxException("recv", errno);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("recv", t);
    }
  }

  /** send(2); returns bytes accepted, or -1 when it would block. */
  public static int send(int fd, MemorySegment buffer, int flags) throws LinuxException {
    try {
      var st = Libc.state();
      long r = (long) Libc.SEND.invokeExact(st, fd, buffer, buffer.byteSize(), flags);
      if (r >= 0) return (int) r;
      int errno = Libc.errno(st);
      if (errno == Errno.EAGAIN) return -1;
      throw new LinuxException("send", errno);
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("send", t);
    }
  }

  public static void setNonBlocking(int fd, boolean nonBlocking) throws LinuxException {
    try {
      var st = Libc.state();
      int flags = (int) Libc.FCNTL_INT.invokeExact(st, fd, F_GETFL, 0);
      if (flags < 0) throw new LinuxException("fcntl(F_GETFL)", Libc.errno(st));
      int wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
      if (wanted != flags) {
        int r = (int) Libc.FCNTL_INT.invokeExact(st, fd, F_SETFL, wanted);
        if (r < 0) throw new LinuxException("fcntl(F_SETFL)", Libc.errno(st));
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("fcntl", t);
    }
  }

  /**
   * poll(2) on one descriptor; returns the revents seen, or 0 on timeout. {@code EINTR} is retried
   * with the same timeout (callers poll with their own deadlines).
   */
  public static int poll(int fd, short events, int timeoutMs) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pfd = arena.allocate(8);
      while (true) {
        pfd.set(JAVA_INT, 0, fd);
        pfd.set(JAVA_SHORT, 4, events);
        pfd.set(JAVA_SHORT, 6, (short) 0);
        var st = Libc.state();
        int r = (int) Libc.POLL.invokeExact(st, pfd, 1L, timeoutMs);
        if (r >= 0) return r == 0 ? 0 : pfd.get(JAVA_SHORT, 6);
        int errno = Libc.errno(st);
        if (errno != Errno.EINTR) throw new LinuxException("poll", errno);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected("poll", t);
    }
  }

  /**
   * Writes a {@code struct sockaddr_in} (IPv4) or {@code struct sockaddr_in6} (IPv6, flow info and
   * scope id 0) for {@code address} into a new segment of {@code arena}, sized exactly.
   */
  public static MemorySegment sockaddr(Arena arena, InetSocketAddress address) {
    return switch (address.getAddress()) {
      case Inet4Address v4 -> {
        MemorySegment sa = arena.allocate(SOCKADDR_IN_SIZE);
        sa.set(JAVA_SHORT, 0, (short) AF_INET);
        sa.set(NET_SHORT, 2, (short) address.getPort());
        MemorySegment.copy(v4.getAddress(), 0, sa, ValueLayout.JAVA_BYTE, 4, 4);
        yield sa;
      }
      case Inet6Address v6 -> {
        MemorySegment sa = arena.allocate(SOCKADDR_IN6_SIZE);
        sa.set(JAVA_SHORT, 0, (short) AF_INET6);
        sa.set(NET_SHORT, 2, (short) address.getPort());
        MemorySegment.copy(v6.getAddress(), 0, sa, ValueLayout.JAVA_BYTE, 8, 16);
        sa.set(JAVA_INT, 24, v6.getScopeId());
        yield sa;
      }
      case null -> throw new IllegalArgumentException("unresolved address: " + address);
      default -> throw new IllegalArgumentException("not an IP address: " + address);
    };
  }

  static InetSocketAddress fromSockaddr(MemorySegment sa) throws LinuxException {
    short family = sa.get(JAVA_SHORT, 0);
    int port = Short.toUnsignedInt(sa.get(NET_SHORT, 2));
    byte[] ip;
    if (family == AF_INET) {
      ip = new byte[4];
      MemorySegment.copy(sa, ValueLayout.JAVA_BYTE, 4, ip, 0, 4);
    } else if (family == AF_INET6) {
      ip = new byte[16];
      MemorySegment.copy(sa, ValueLayout.JAVA_BYTE, 8, ip, 0, 16);
    } else {
      throw new LinuxException("sockaddr", "address family " + family + " is not AF_INET(6)");
    }
    try {
      // getByAddress turns a v4-mapped IPv6 address into an Inet4Address; IPv6-only sockets never
      // report one.
      return new InetSocketAddress(InetAddress.getByAddress(ip), port);
    } catch (UnknownHostException e) {
      throw new AssertionError(ip.length + "-byte address rejected", e);
    }
  }

  /** {@code a.b.c.d:port} or {@code [v6]:port}, the address in its shortest form. */
  static String text(InetSocketAddress a) {
    return IpText.withPort(a.getAddress(), a.getPort());
  }

  static LinuxException unexpected(String call, Throwable t) {
    if (t instanceof RuntimeException re) throw re;
    if (t instanceof Error e) throw e;
    return new LinuxException(call, "unexpected failure of the native call: " + t);
  }
}
