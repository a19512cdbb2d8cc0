package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;

/**
 * Finds one TCP socket of a network namespace by its 4-tuple, as {@code ss} does: an exact lookup
 * over {@code NETLINK_SOCK_DIAG} ({@code SOCK_DIAG_BY_FAMILY} without {@code NLM_F_DUMP}). It sees
 * the sockets no process holds any more: those a closing application left to the kernel, still
 * sending what it wrote (orphans), and those in TIME_WAIT.
 *
 * <p>The socket belongs to the network namespace of the thread that opened it. Not thread-safe; its
 * owner confines it to one thread.
 */
public final class TcpSocketDiag implements AutoCloseable {
  // linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
  private static final int NETLINK_SOCK_DIAG = 4;
  private static final int SOCK_DIAG_BY_FAMILY = 20;
  private static final int NLMSG_ERROR = 2;
  private static final int NLM_F_REQUEST = 1;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final int IPPROTO_TCP = 6;
  private static final int INET_DIAG_NOCOOKIE = ~0;
  private static final int INET_DIAG_MSG_LEN = 72;
  private static final long REPLY_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(1);

  // include/net/tcp_states.h
  public static final int ESTABLISHED = 1;
  public static final int FIN_WAIT1 = 4;
  public static final int FIN_WAIT2 = 5;
  public static final int TIME_WAIT = 6;
  public static final int CLOSE = 7;
  public static final int CLOSE_WAIT = 8;
  public static final int LAST_ACK = 9;
  public static final int CLOSING = 11;

  /**
   * The socket found: its TCP state ({@link #FIN_WAIT1} ...), the bytes it sent or holds to send
   * that the peer has not acknowledged ({@code idiag_wqueue}) and the bytes received that nobody
   * read ({@code idiag_rqueue}).
   */
  public record Found(int state, long unacknowledged, long unread) {}

  private final NetlinkSocket socket;
  private final NetlinkWriter writer = new NetlinkWriter(128);
  private int seq;

  private TcpSocketDiag(NetlinkSocket socket) {
    this.socket = socket;
  }

  /** Opens a lookup for the calling thread's network namespace. */
  public static TcpSocketDiag open() throws LinuxException {
    return new TcpSocketDiag(NetlinkSocket.open(NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG"));
  }

  /**
   * The socket whose own address is {@code local}:{@code localPort} and whose peer is {@code
   * remote}:{@code remotePort}, or null if this namespace has none (it is gone). Both addresses of
   * one family.
   */
  public Found find(InetAddress local, int localPort, InetAddress remote, int remotePort)
      throws LinuxException {
    byte[] src = local.getAddress();
    byte[] dst = remote.getAddress();
    if (src.length != dst.length)
      throw new IllegalArgumentException("mixed families: " + local + ", " + remote);
    int family = local instanceof Inet4Address ? AF_INET : AF_INET6;
    writer.reset();
    int start = writer.beginMessage(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, ++seq);
    // struct inet_diag_req_v2
    writer.putHeaderByte(family);
    writer.putHeaderByte(IPPROTO_TCP);
    writer.putHeaderByte(0); // idiag_ext: no extensions
    writer.putHeaderByte(0); // pad
    writer.putHeaderInt(~0); // idiag_states: any (an exact lookup ignores it)
    // struct inet_diag_sockid: ports and addresses in network byte order
    putBigEndianShort(localPort);
    putBigEndianShort(remotePort);
    putAddress(src);
    putAddress(dst);
    writer.putHeaderInt(0); // idiag_if: any
    writer.putHeaderInt(INET_DIAG_NOCOOKIE);
    writer.putHeaderInt(INET_DIAG_NOCOOKIE);
    writer.endMessage(start);
    socket.send(writer.written());
    int expected = seq;
    Found[] found = new Found[1];
    socket.readReplies(
        REPLY_TIMEOUT_NS,
        false,
        reply -> {
          if (reply.seq() != expected) return false; // a late answer to an abandoned lookup
          if (reply.type() == NLMSG_ERROR) {
            int errno = reply.errno();
            if (errno == 0 || errno == Errno.ENOENT) return true;
            throw new LinuxException("SOCK_DIAG_BY_FAMILY " + local + ":" + localPort, errno);
          }
          if (reply.type() != SOCK_DIAG_BY_FAMILY
              || reply.length() < NetlinkWriter.NLMSG_HDRLEN + INET_DIAG_MSG_LEN) {
            throw new LinuxException(
                "SOCK_DIAG_BY_FAMILY", "unexpected reply of type " + reply.type());
          }
          MemorySegment m = reply.datagram();
          long p = reply.payload();
          // struct inet_diag_msg: family, state, timer, retrans, id (48), expires, rqueue, wqueue
          found[0] =
              new Found(
                  Byte.toUnsignedInt(m.get(JAVA_BYTE, p + 1)),
                  Integer.toUnsignedLong(m.get(JAVA_INT_UNALIGNED, p + 60)),
                  Integer.toUnsignedLong(m.get(JAVA_INT_UNALIGNED, p + 56)));
          return true;
        });
    return found[0];
  }

  private void putBigEndianShort(int value) {
    writer.putHeaderByte(value >>> 8);
    writer.putHeaderByte(value);
  }

  /** {@code __be32 [4]}: an IPv4 address in the first word, the rest zero. */
  private void putAddress(byte[] address) {
    for (byte b : address) writer.putHeaderByte(b);
    for (int i = address.length; i < 16; i++) writer.putHeaderByte(0);
  }

  @Override
  public void close() throws LinuxException {
    socket.close();
  }
}
