package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A non-blocking {@code AF_NETLINK} socket that talks to the kernel: bound with {@code nl_pid} 0
 * (the kernel picks the port id), acknowledgements capped to the header of the message they answer
 * ({@code NETLINK_CAP_ACK}), so a batch of thousands of changes is answered in small datagrams.
 *
 * <p>The socket belongs to the network namespace of the thread that opened it, for good. Not
 * thread-safe; its owner confines it to one thread.
 */
final class NetlinkSocket implements AutoCloseable {
  // sys/socket.h, bits/socket_type.h
  static final int AF_NETLINK = 16;
  static final int SOCK_RAW = 3;
  // linux/netlink.h
  static final int NETLINK_ROUTE = 0;
  static final int NETLINK_NETFILTER = 12;
  static final int SOL_NETLINK = 270;
  static final int NETLINK_CAP_ACK = 10;
  // asm-generic/socket.h
  static final int SO_SNDBUFFORCE = 32;
  static final int SO_RCVBUFFORCE = 33;

  private static final int SOCKADDR_NL_SIZE = 12;

  /** Largest datagram the kernel sends on this socket: a 64 KiB attribute plus headers. */
  private static final int RECEIVE_BUFFER_BYTES = 65536 + 4096;

  /** Receive-buffer room per expected reply; the kernel charges each ack's whole skb. */
  private static final int RECEIVE_BYTES_PER_REPLY = 1024;

  private final int fd;
  private final String name;
  private final MemorySegment kernelAddress;
  private final MemorySegment receiveBuffer;
  private int sendBufferBytes;
  private int receiveBufferBytes;

  private NetlinkSocket(int fd, String name) throws LinuxException {
    this.fd = fd;
    this.name = name;
    Arena arena = Arena.ofAuto();
    this.kernelAddress = sockaddrNl(arena);
    this.receiveBuffer = arena.allocate(RECEIVE_BUFFER_BYTES, 8);
    this.sendBufferBytes = Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, "SO_SNDBUF");
    this.receiveBufferBytes =
        Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, "SO_RCVBUF");
  }

  /**
   * Opens and binds a socket for {@code protocol} ({@link #NETLINK_NETFILTER}, {@link
   * #NETLINK_ROUTE}) in the calling thread's network namespace.
   */
  static NetlinkSocket open(int protocol, String protocolName) throws LinuxException {
    String name = "AF_NETLINK, " + protocolName;
    int fd;
    try {
      var st = Libc.state();
      int type = SOCK_RAW | Sockets.SOCK_CLOEXEC | Sockets.SOCK_NONBLOCK;
      fd = (int) Libc.SOCKET.invokeExact(st, AF_NETLINK, type, protocol);
      if (fd < 0) throw new LinuxException("socket(" + name + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("socket", t);
    }
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int r = (int) Libc.BIND.invokeExact(st, fd, sockaddrNl(arena), SOCKADDR_NL_SIZE);
      if (r < 0) throw new LinuxException("bind(" + name + ")", Libc.errno(st));
      Sockets.setInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK");
      return new NetlinkSocket(fd, name);
    } catch (Throwable t) {
      Sockets.closeQuietly(fd);
      if (t instanceof LinuxException e) throw e;
      throw Sockets.unexpected("bind", t);
    }
  }

  /**
   * Grows the socket buffers (beyond the sysctl limits, as root may) so that a message of {@code
   * messageBytes} can be sent and {@code replies} acknowledgements queued without loss.
   */
  void reserve(int messageBytes, int replies) throws LinuxException {
    // netlink_sendmsg refuses messages longer than sk_sndbuf - 32 with EMSGSIZE.
    int sendNeeded = messageBytes + 4096;
    if (sendNeeded > sendBufferBytes) {
      sendBufferBytes = grow(Sockets.SO_SNDBUF, SO_SNDBUFFORCE, "SO_SNDBUF", sendNeeded);
    }
    long receiveNeeded = Math.max((long) replies * RECEIVE_BYTES_PER_REPLY, RECEIVE_BUFFER_BYTES);
    if (receiveNeeded > receiveBufferBytes) {
      receiveBufferBytes =
          grow(
              Sockets.SO_RCVBUF,
              SO_RCVBUFFORCE,
              "SO_RCVBUF",
              (int) Math.min(receiveNeeded, 1 << 30));
    }
  }

  private int grow(int option, int forceOption, String optionName, int bytes)
      throws LinuxException {
    try {
      Sockets.setInt(fd, Sockets.SOL_SOCKET, forceOption, bytes, optionName + "FORCE");
    } catch (LinuxException e) {
      if (e.errno() != Errno.EPERM) throw e;
      // Without CAP_NET_ADMIN the plain option still reaches the sysctl maximum.
      Sockets.setInt(fd, Sockets.SOL_SOCKET, option, bytes, optionName);
    }
    return Sockets.getInt(fd, Sockets.SOL_SOCKET, option, optionName);
  }

  /**
   * Sends {@code message} to the kernel in one datagram; the kernel handles it before returning.
   */
  void send(MemorySegment message) throws LinuxException {
    try {
      var st = Libc.state();
      while (true) {
        long n =
            (long)
                Libc.SENDTO.invokeExact(
                    st, fd, message, message.byteSize(), 0, kernelAddress, SOCKADDR_NL_SIZE);
        if (n == message.byteSize()) return;
        if (n >= 0) {
          throw new LinuxException(
              "sendto(" + name + ")", "sent " + n + " of " + message.byteSize() + " bytes");
        }
        int errno = Libc.errno(st);
        if (errno != Errno.EINTR) throw new LinuxException("sendto(" + name + ")", errno);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("sendto", t);
    }
  }

  /**
   * Receives one datagram, waiting until {@code deadlineNs} ({@link System#nanoTime}); returns a
   * view of it, valid until the next receive. {@code ENOBUFS} means replies were lost.
   */
  MemorySegment receive(long deadlineNs) throws LinuxException {
    try {
      var st = Libc.state();
      while (true) {
        long n =
            (long)
                Libc.RECV.invokeExact(
                    st, fd, receiveBuffer, receiveBuffer.byteSize(), Sockets.MSG_DONTWAIT);
        if (n >= 0) return receiveBuffer.asSlice(0, n);
        int errno = Libc.errno(st);
        if (errno == Errno.EINTR) continue;
        if (errno != Errno.EAGAIN) throw new LinuxException("recv(" + name + ")", errno);
        long leftMs = (deadlineNs - System.nanoTime() + 999_999) / 1_000_000;
        if (leftMs <= 0) {
          throw new LinuxException("recv(" + name + ")", "no reply from the kernel in time");
        }
        Sockets.poll(fd, Sockets.POLLIN, (int) Math.min(leftMs, 1000));
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("recv", t);
    }
  }

  /**
   * One message of a reply as {@link #readReplies} walks the datagrams: its header fields and
   * bounds, checked to lie inside the datagram. Reused from message to message; valid during the
   * visit only.
   */
  static final class Reply {
    private MemorySegment datagram;
    private long offset;
    private int length;

    /** The datagram that holds this message (for reading its payload). */
    MemorySegment datagram() {
      return datagram;
    }

    int type() {
      return Short.toUnsignedInt(datagram.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset + 4));
    }

    int flags() {
      return Short.toUnsignedInt(datagram.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset + 6));
    }

    int seq() {
      return datagram.get(ValueLayout.JAVA_INT_UNALIGNED, offset + 8);
    }

    int length() {
      return length;
    }

    /** Offset of the payload (after the netlink header) in {@link #datagram}. */
    long payload() {
      return offset + NetlinkWriter.NLMSG_HDRLEN;
    }

    /** Offset just past this message in {@link #datagram}. */
    long end() {
      return offset + length;
    }

    /**
     * The errno of an NLMSG_ERROR or NLMSG_DONE message (the kernel sends it negated); 0 if none.
     */
    int errno() {
      if (length < NetlinkWriter.NLMSG_HDRLEN + 4) return 0;
      return Math.abs(datagram.get(ValueLayout.JAVA_INT_UNALIGNED, payload()));
    }
  }

  /** What {@link #readReplies} shows each message to. */
  @FunctionalInterface
  interface ReplyVisitor {
    /** Returns true when the reply is complete: no more messages are read. */
    boolean visit(Reply message) throws LinuxException;
  }

  /**
   * Receives datagrams and shows each of their messages to {@code visitor}, in order, until it says
   * the reply is complete. A message whose length is below a header or beyond its datagram fails
   * the call. Each datagram must arrive within {@code timeoutNs}: of the call when {@code
   * perDatagram} is false, of the datagram before it when true (a long dump).
   */
  void readReplies(long timeoutNs, boolean perDatagram, ReplyVisitor visitor)
      throws LinuxException {
    Reply message = new Reply();
    long deadlineNs = System.nanoTime() + timeoutNs;
    while (true) {
      MemorySegment datagram = receive(deadlineNs);
      message.datagram = datagram;
      for (long at = 0; at + NetlinkWriter.NLMSG_HDRLEN <= datagram.byteSize(); ) {
        int length = datagram.get(ValueLayout.JAVA_INT_UNALIGNED, at);
        if (length < NetlinkWriter.NLMSG_HDRLEN || at + length > datagram.byteSize()) {
          throw new LinuxException("recv(" + name + ")", "malformed reply of " + length + " bytes");
        }
        message.offset = at;
        message.length = length;
        if (visitor.visit(message)) return;
        at += NetlinkWriter.align(length);
      }
      if (perDatagram) deadlineNs = System.nanoTime() + timeoutNs;
    }
  }

  /** Drops every datagram already queued (replies to a call that gave up on them). */
  void discardPending() throws LinuxException {
    try {
      var st = Libc.state();
      while (true) {
        long n =
            (long)
                Libc.RECV.invokeExact(
                    st, fd, receiveBuffer, receiveBuffer.byteSize(), Sockets.MSG_DONTWAIT);
        if (n >= 0) continue;
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return;
        // A lost reply (ENOBUFS) or an interrupted call leaves nothing to keep: go on draining.
        if (errno != Errno.EINTR && errno != Errno.ENOBUFS) {
          throw new LinuxException("recv(" + name + ")", errno);
        }
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("recv", t);
    }
  }

  @Override
  public void close() throws LinuxException {
    Sockets.close(fd);
  }

  /** {@code struct sockaddr_nl} with {@code nl_pid} 0 and no groups: the kernel, or "pick one". */
  private static MemorySegment sockaddrNl(Arena arena) {
    MemorySegment sa = arena.allocate(SOCKADDR_NL_SIZE, 4);
    sa.set(JAVA_SHORT, 0, (short) AF_NETLINK);
    sa.set(JAVA_INT, 4, 0);
    sa.set(JAVA_INT, 8, 0);
    return sa;
  }
}
