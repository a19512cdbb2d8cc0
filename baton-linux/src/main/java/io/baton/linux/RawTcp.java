package io.baton.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;

/**
 * Sends hand-built TCP segments ({@link TcpSegment}) through a raw IPv4 socket with {@code
 * IP_HDRINCL} ({@code socket(AF_INET, SOCK_RAW, IPPROTO_RAW)} implies it, see raw(7)), so the
 * packet may carry any source address, e.g. a remote peer's. A packet for a local address is looped
 * back through {@code lo} and meets the local stack (netfilter prerouting included) like one that
 * arrived from the network. Needs CAP_NET_RAW.
 *
 * <p>The socket belongs to the network namespace of the thread that calls {@link #send}. Stateless
 * and thread-safe.
 */
public final class RawTcp {
  // linux/in.h, bits/socket_type.h
  static final int SOCK_RAW = 3;
  static final int IPPROTO_RAW = 255;
  private static final int SOCKADDR_IN_SIZE = 16;

  private RawTcp() {}

  /**
   * Sends one segment. Opens and closes a raw socket per call: the callers (re-creating a FIN after
   * a move) are rare, and a socket kept open would tie this class to one namespace.
   */
  public static void send(TcpSegment segment) throws LinuxException {
    byte[] packet = segment.toIpv4Packet();
    int fd = open();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(packet.length);
      MemorySegment.copy(packet, 0, buf, ValueLayout.JAVA_BYTE, 0, packet.length);
      // For IP_HDRINCL the destination is taken from the header; sendto still wants an address.
      InetSocketAddress to = new InetSocketAddress(segment.destination().getAddress(), 0);
      MemorySegment sa = Sockets.sockaddr(arena, to);
      var st = Libc.state();
      long r =
          (long)
              Libc.SENDTO.invokeExact(st, fd, buf, (long) packet.length, 0, sa, SOCKADDR_IN_SIZE);
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

  private static int open() throws LinuxException {
    try {
      var st = Libc.state();
      int fd =
          (int)
              Libc.SOCKET.invokeExact(
                  st, Sockets.AF_INET, SOCK_RAW | Sockets.SOCK_CLOEXEC, IPPROTO_RAW);
      if (fd < 0)
        throw new LinuxException("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)", Libc.errno(st));
      return fd;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("socket", t);
    }
  }
}
