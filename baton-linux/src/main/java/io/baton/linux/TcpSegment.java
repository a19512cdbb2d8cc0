package io.baton.linux;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * One TCP segment without payload, as an IPv4 or IPv6 packet (the addresses' family) ready for a
 * raw socket that takes whole packets ({@link RawTcp}): used to re-create a peer's control segment
 * (a FIN) that a moved connection already received on its previous host. Pure data and arithmetic,
 * no system calls.
 *
 * <p>Immutable and thread-safe.
 *
 * @param source the address and port the segment claims to come from (the peer)
 * @param destination where it goes (the local socket's address and port)
 * @param seq sequence number (u32 in an int)
 * @param ack acknowledgment number (u32 in an int); sent with {@link #ACK} set in {@code flags}
 * @param flags TCP flags, see {@link #FIN}, {@link #ACK}, ...
 * @param window the 16-bit window field as sent, i.e. already shifted right by the sender's window
 *     scale
 * @param timestamp the timestamp option (RFC 7323), or null for none
 */
public record TcpSegment(
    InetSocketAddress source,
    InetSocketAddress destination,
    int seq,
    int ack,
    int flags,
    int window,
    Timestamp timestamp) {

  // TCP header flags (RFC 9293 section 3.1)
  public static final int FIN = 0x01;
  public static final int SYN = 0x02;
  public static final int RST = 0x04;
  public static final int PSH = 0x08;
  public static final int ACK = 0x10;

  // linux/in.h, linux/ip.h
  static final int IPPROTO_TCP = 6;
  private static final int IP_HEADER_BYTES = 20;
  private static final int IPV6_HEADER_BYTES = 40;
  private static final int IP_DONT_FRAGMENT = 0x4000;
  private static final int TTL = 64;
  private static final int TCP_HEADER_BYTES = 20;
  // RFC 7323 section 3.2 with the two leading NOPs of Appendix A: 12 bytes, 32-bit aligned
  private static final int TIMESTAMP_OPTION_BYTES = 12;
  private static final int TCPOPT_NOP = 1;
  private static final int TCPOPT_TIMESTAMP = 8;
  private static final int TCPOLEN_TIMESTAMP = 10;

  /** The timestamp option's two values (u32 each). */
  public record Timestamp(int value, int echoReply) {}

  public TcpSegment {
    requireIpAndPort(source, "source");
    requireIpAndPort(destination, "destination");
    if (source.getAddress().getClass() != destination.getAddress().getClass()) {
      throw new IllegalArgumentException(
          "source and destination must be of one family: " + source + " > " + destination);
    }
    if ((flags & ~0xff) != 0) throw new IllegalArgumentException("flags beyond 8 bits: " + flags);
    if (window < 0 || window > 0xffff) {
      throw new IllegalArgumentException("window field must be 0..65535, got " + window);
    }
  }

  /** Whether the segment travels in an IPv6 packet. */
  public boolean ipv6() {
    return source.getAddress() instanceof Inet6Address;
  }

  /** Length of the packet {@link #toPacket} builds. */
  public int packetLength() {
    return (ipv6() ? IPV6_HEADER_BYTES : IP_HEADER_BYTES) + tcpHeaderLength();
  }

  /** {@link #toIpv4Packet} or {@link #toIpv6Packet}, by the addresses' family. */
  public byte[] toPacket() {
    return ipv6() ? toIpv6Packet() : toIpv4Packet();
  }

  /**
   * The segment in an IPv6 header (RFC 8200: traffic class and flow label 0, hop limit 64), the TCP
   * checksum over the IPv6 pseudo-header (RFC 8200 section 8.1). A raw AF_INET6 socket with {@code
   * IPPROTO_RAW} sends it as it is: unlike IPv4's, the kernel fills in nothing.
   */
  public byte[] toIpv6Packet() {
    if (!ipv6()) throw new IllegalStateException("not an IPv6 segment: " + this);
    int tcpLength = tcpHeaderLength();
    byte[] p = new byte[IPV6_HEADER_BYTES + tcpLength];
    byte[] src = source.getAddress().getAddress();
    byte[] dst = destination.getAddress().getAddress();
    p[0] = 0x60; // version 6
    putShort(p, 4, tcpLength); // payload length
    p[6] = (byte) IPPROTO_TCP; // next header
    p[7] = (byte) TTL; // hop limit
    System.arraycopy(src, 0, p, 8, 16);
    System.arraycopy(dst, 0, p, 24, 16);
    writeTcp(p, IPV6_HEADER_BYTES, tcpLength);
    putShort(
        p,
        IPV6_HEADER_BYTES + 16,
        internetChecksum(p, IPV6_HEADER_BYTES, tcpLength, pseudoHeaderSum(src, dst, tcpLength)));
    return p;
  }

  private int tcpHeaderLength() {
    return TCP_HEADER_BYTES + (timestamp == null ? 0 : TIMESTAMP_OPTION_BYTES);
  }

  /**
   * The segment in an IPv4 header, with both checksums and the total length filled in (the kernel
   * fills the IP checksum and length of {@code IP_HDRINCL} packets again, and the identification
   * because it is left 0; see raw(7)).
   */
  public byte[] toIpv4Packet() {
    if (ipv6()) throw new IllegalStateException("not an IPv4 segment: " + this);
    int tcpLength = tcpHeaderLength();
    byte[] p = new byte[IP_HEADER_BYTES + tcpLength];
    byte[] src = source.getAddress().getAddress();
    byte[] dst = destination.getAddress().getAddress();
    // IPv4 header (RFC 791)
    p[0] = 0x45; // version 4, 5 words
    putShort(p, 2, p.length);
    putShort(p, 6, IP_DONT_FRAGMENT);
    p[8] = (byte) TTL;
    p[9] = (byte) IPPROTO_TCP;
    System.arraycopy(src, 0, p, 12, 4);
    System.arraycopy(dst, 0, p, 16, 4);
    putShort(p, 10, internetChecksum(p, 0, IP_HEADER_BYTES, 0));
    writeTcp(p, IP_HEADER_BYTES, tcpLength);
    putShort(
        p,
        IP_HEADER_BYTES + 16,
        internetChecksum(p, IP_HEADER_BYTES, tcpLength, pseudoHeaderSum(src, dst, tcpLength)));
    return p;
  }

  /** The TCP header (RFC 9293) at {@code t}, checksum field left 0. */
  private void writeTcp(byte[] p, int t, int tcpLength) {
    putShort(p, t, source.getPort());
    putShort(p, t + 2, destination.getPort());
    putInt(p, t + 4, seq);
    putInt(p, t + 8, ack);
    p[t + 12] = (byte) ((tcpLength / 4) << 4);
    p[t + 13] = (byte) flags;
    putShort(p, t + 14, window);
    if (timestamp != null) {
      int o = t + TCP_HEADER_BYTES;
      p[o] = TCPOPT_NOP;
      p[o + 1] = TCPOPT_NOP;
      p[o + 2] = TCPOPT_TIMESTAMP;
      p[o + 3] = TCPOLEN_TIMESTAMP;
      putInt(p, o + 4, timestamp.value());
      putInt(p, o + 8, timestamp.echoReply());
    }
  }

  /**
   * The Internet checksum (RFC 1071) of {@code length} bytes at {@code offset}, starting from
   * {@code initialSum} (e.g. a pseudo-header's 16-bit one's-complement sum): the one's complement
   * of the one's-complement sum of the 16-bit big-endian words, an odd last byte padded with 0.
   */
  public static int internetChecksum(byte[] bytes, int offset, int length, int initialSum) {
    long sum = initialSum & 0xffffffffL;
    int i = offset;
    int end = offset + length;
    for (; i + 1 < end; i += 2) {
      sum += ((bytes[i] & 0xff) << 8) | (bytes[i + 1] & 0xff);
    }
    if (i < end) sum += (bytes[i] & 0xff) << 8;
    while ((sum >>> 16) != 0) sum = (sum & 0xffff) + (sum >>> 16);
    return (int) (~sum & 0xffff);
  }

  /**
   * Sum of the TCP pseudo-header: addresses, protocol, TCP length (RFC 9293 section 3.1 for IPv4,
   * RFC 8200 section 8.1 for IPv6, where the length is 32 bits and the protocol a "next header"
   * byte; with lengths below 65536 both sum to the same words).
   */
  static int pseudoHeaderSum(byte[] src, byte[] dst, int tcpLength) {
    return pseudoHeaderSum(src, dst, IPPROTO_TCP, tcpLength);
  }

  /**
   * The same sum for any transport {@code protocol} (a UDP datagram's checksum covers the same
   * pseudo-header, with protocol 17 and the UDP length).
   */
  static int pseudoHeaderSum(byte[] src, byte[] dst, int protocol, int length) {
    int sum = 0;
    for (int i = 0; i < src.length; i += 2) {
      sum += ((src[i] & 0xff) << 8) | (src[i + 1] & 0xff);
      sum += ((dst[i] & 0xff) << 8) | (dst[i + 1] & 0xff);
    }
    return sum + protocol + length;
  }

  private static void requireIpAndPort(InetSocketAddress a, String what) {
    Objects.requireNonNull(a, what);
    if (!(a.getAddress() instanceof Inet4Address) && !(a.getAddress() instanceof Inet6Address)) {
      throw new IllegalArgumentException(what + " must be an IP address: " + a);
    }
    if (a.getPort() == 0) throw new IllegalArgumentException(what + " port must not be 0: " + a);
  }

  private static void putShort(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 8);
    b[at + 1] = (byte) v;
  }

  private static void putInt(byte[] b, int at, int v) {
    putShort(b, at, v >>> 16);
    putShort(b, at + 2, v);
  }

  @Override
  public String toString() {
    return "TcpSegment["
        + Sockets.text(source)
        + " > "
        + Sockets.text(destination)
        + " flags=0x"
        + Integer.toHexString(flags)
        + " seq="
        + Integer.toUnsignedString(seq)
        + " ack="
        + Integer.toUnsignedString(ack)
        + " win="
        + window
        + (timestamp == null
            ? ""
            : " ts="
                + Integer.toUnsignedString(timestamp.value())
                + "/"
                + Integer.toUnsignedString(timestamp.echoReply()))
        + "]";
  }
}
