package io.baton.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;

/**
 * Sends hand-built TCP segments ({@link TcpSegment}) through a raw socket that takes whole packets:
 * {@code socket(AF_INET, SOCK_RAW, IPPROTO_RAW)} implies {@code IP_HDRINCL} (raw(7)), and {@code
 * socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)} likewise sets the socket's header-included flag
 * (inet6_create; raw IPv6 then sends the packet as built, see {@link TcpSegment#toIpv6Packet}), so
 * the packet may carry any source address, e.g. a remote peer's. A packet for a local address is
 * looped back through {@code lo} and meets the local stack (netfilter prerouting included) like one
 * that arrived from the network. Needs CAP_NET_RAW.
 *
 * <p>The socket belongs to the network namespace of the thread that calls {@link #send}. Stateless
 * and thread-safe.
 */
public final class RawTcp {
  // linux/in.h, bits/socket_type.h
  static final int SOCK_RAW = 3;
  static final int IPPROTO_RAW = 255;

  private RawTcp() {}

  /**
   * Sends one segment. Opens and closes a raw socket per call: the callers (re-creating a FIN after
   * a move) are rare, and a socket kept open would tie this class to one namespace.
   */
  public static void send(TcpSegment segment) throws LinuxException {
    byte[] packet = segment.toPacket();
    int family = segment.ipv6() ? Sockets.AF_INET6 : Sockets.AF_INET;
    int fd = open(family);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(packet.length);
      MemorySegment.copy(packet, 0, buf, ValueLayout.JAVA_BYTE, 0, packet.length);
      // With the header included the destination is taken from it; sendto still wants an address
      // (port 0: for IPv6 a nonzero port would have to name the socket's protocol).
      InetSocketAddress to = new InetSocketAddress(segment.destination().getAddress(), 0);
      MemorySegment sa = Sockets.sockaddr(arena, to);
      var st = Libc.state();
      long r =
          (long)
              Libc.SENDTO.invokeExact(
                  st, fd, buf, (long) packet.length, 0, sa, (int) sa.byteSize());
      if (r < 0) throw new LinuxException("sendto(raw " + segment + ")", Libc.errno(st));
      if (r != packet.length) {
        throw new LinuxException(
            "sendto(raw " + segment + ")", "sent " + r + " of " + packet.length + " bytes");
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("sendto", t);
    } finally {
      Sockets.closeQuietly(fd);
    }
  }

  /**
   * Why this process cannot send raw segments (opening the socket needs CAP_NET_RAW), or {@code
   * null} if it can: a server re-creates a half-closed client's FIN with one.
   */
  public static String problem() {
    try {
      Sockets.closeQuietly(open(Sockets.AF_INET));
      return null;
    } catch (LinuxException e) {
      return e.getMessage();
    }
  }

  private static int open(int family) throws LinuxException {
    try {
      var st = Libc.state();
      int fd =
          (int) Libc.SOCKET.invokeExact(st, family, SOCK_RAW | Sockets.SOCK_CLOEXEC, IPPROTO_RAW);
      if (fd < 0) {
        String name = family == Sockets.AF_INET6 ? "AF_INET6" : "AF_INET";
        throw new LinuxException("socket(" + name + ", SOCK_RAW, IPPROTO_RAW)", Libc.errno(st));
      }
      return fd;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("socket", t);
    }
  }
}
