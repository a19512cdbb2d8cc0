package io.baton.linux;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/** Ethernet frames with IPv4 or IPv6 TCP or UDP packets, checksums right, for program test runs. */
final class TestPackets {
  static final int ACK = 0x10, SYN = 0x02, PSH = 0x08;

  private TestPackets() {}

  /** A TCP segment from {@code src}:{@code sport} to {@code dst}:{@code dport}. */
  static byte[] tcp(
      Inet4Address src, int sport, Inet4Address dst, int dport, int flags, byte[] data) {
    ByteBuffer l4 = ByteBuffer.allocate(20 + data.length);
    l4.putShort((short) sport).putShort((short) dport).putInt(1000).putInt(2000);
    l4.put((byte) 0x50).put((byte) flags).putShort((short) 64240).putInt(0);
    l4.put(data);
    return frame(src, dst, FlowForwarder.TCP, l4.array(), 16);
  }

  /** A UDP datagram. */
  static byte[] udp(Inet4Address src, int sport, Inet4Address dst, int dport, byte[] data) {
    ByteBuffer l4 = ByteBuffer.allocate(8 + data.length);
    l4.putShort((short) sport).putShort((short) dport).putShort((short) (8 + data.length));
    l4.putShort((short) 0).put(data);
    return frame(src, dst, FlowForwarder.UDP, l4.array(), 6);
  }

  /** Ethernet + IPv4 (no options) around {@code l4}, whose checksum is at {@code checkAt}. */
  static byte[] frame(Inet4Address src, Inet4Address dst, int protocol, byte[] l4, int checkAt) {
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + l4.length);
    b.put(new byte[] {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4.length)).putShort((short) 7);
    b.putShort((short) 0x4000).put((byte) 64).put((byte) protocol).putShort((short) 0);
    b.put(src.getAddress()).put(dst.getAddress());
    b.put(l4);
    byte[] f = b.array();
    int ipSum = TcpSegment.internetChecksum(f, 14, 20, 0);
    f[24] = (byte) (ipSum >> 8);
    f[25] = (byte) ipSum;
    int pseudo =
        TcpSegment.pseudoHeaderSum(src.getAddress(), dst.getAddress(), protocol, l4.length);
    int sum = TcpSegment.internetChecksum(f, 34, l4.length, pseudo);
    f[34 + checkAt] = (byte) (sum >> 8);
    f[34 + checkAt + 1] = (byte) sum;
    return f;
  }

  /** An IPv6 TCP segment from {@code src}:{@code sport} to {@code dst}:{@code dport}. */
  static byte[] tcp6(
      Inet6Address src, int sport, Inet6Address dst, int dport, int flags, byte[] data) {
    return frame6(src, dst, FlowForwarder.TCP, tcpHeader(sport, dport, flags, data), 16, -1);
  }

  /** An IPv6 UDP datagram. */
  static byte[] udp6(Inet6Address src, int sport, Inet6Address dst, int dport, byte[] data) {
    ByteBuffer l4 = ByteBuffer.allocate(8 + data.length);
    l4.putShort((short) sport).putShort((short) dport).putShort((short) (8 + data.length));
    l4.putShort((short) 0).put(data);
    return frame6(src, dst, FlowForwarder.UDP, l4.array(), 6, -1);
  }

  /**
   * An IPv6 TCP segment behind an 8-byte extension header of type {@code extension} (e.g. 0,
   * hop-by-hop options, filled with padding).
   */
  static byte[] tcp6WithExtension(
      Inet6Address src, int sport, Inet6Address dst, int dport, int extension) {
    return frame6(
        src, dst, FlowForwarder.TCP, tcpHeader(sport, dport, ACK, new byte[0]), 16, extension);
  }

  private static byte[] tcpHeader(int sport, int dport, int flags, byte[] data) {
    ByteBuffer l4 = ByteBuffer.allocate(20 + data.length);
    l4.putShort((short) sport).putShort((short) dport).putInt(1000).putInt(2000);
    l4.put((byte) 0x50).put((byte) flags).putShort((short) 64240).putInt(0);
    l4.put(data);
    return l4.array();
  }

  /**
   * Ethernet + IPv6 (hop limit 64, flow label 0x12345) around {@code l4}, whose checksum is at
   * {@code checkAt}; with an 8-byte extension header of type {@code extension} (its next header
   * {@code protocol}, padding options) between them unless {@code extension} is -1.
   */
  static byte[] frame6(
      Inet6Address src, Inet6Address dst, int protocol, byte[] l4, int checkAt, int extension) {
    int ext = extension < 0 ? 0 : 8;
    ByteBuffer b = ByteBuffer.allocate(14 + 40 + ext + l4.length);
    b.put(new byte[] {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}).putShort((short) 0x86dd);
    b.putInt(0x6001_2345).putShort((short) (ext + l4.length));
    b.put((byte) (ext == 0 ? protocol : extension)).put((byte) 64);
    b.put(src.getAddress()).put(dst.getAddress());
    if (ext != 0) b.put((byte) protocol).put((byte) 0).put(new byte[] {1, 4, 0, 0, 0, 0});
    int at = b.position();
    b.put(l4);
    byte[] f = b.array();
    int pseudo =
        TcpSegment.pseudoHeaderSum(src.getAddress(), dst.getAddress(), protocol, l4.length);
    int sum = TcpSegment.internetChecksum(f, at, l4.length, pseudo);
    if (sum == 0) sum = 0xffff;
    f[at + checkAt] = (byte) (sum >> 8);
    f[at + checkAt + 1] = (byte) sum;
    return f;
  }

  static Inet6Address ip6(String text) {
    if (InetAddress.ofLiteral(text) instanceof Inet6Address a) return a;
    throw new IllegalArgumentException("not IPv6: " + text);
  }

  static Inet4Address ip(String text) {
    try {
      return (Inet4Address) InetAddress.getByName(text);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(text, e);
    }
  }
}
