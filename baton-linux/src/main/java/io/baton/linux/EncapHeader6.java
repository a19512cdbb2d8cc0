package io.baton.linux;

import java.net.Inet6Address;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Version 2 of Baton's encapsulation header, for an IPv6 client connection or UDP flow: the 56
 * bytes between the outer UDP header and the inner IPv6 packet, in network byte order:
 *
 * <pre>
 *  0  u8 version (2) | u8 inner protocol (6 or 17) | u16 header length (56)
 *  4  u32 connection id
 *  8  8 bytes farm check
 * 16  client IPv6 (16 bytes)
 * 32  u16 client port | u16 VIP port
 * 36  u32 reserved, zero
 * 40  VIP IPv6 (16 bytes)
 * </pre>
 *
 * The fields mean what they mean in version 1 ({@link EncapHeader}); the reserved word keeps both
 * addresses 8-byte aligned within the header. The outer packet stays IPv4 + UDP (the farm's fabric
 * is IPv4; only the client side speaks IPv6), so an IPv6 packet costs {@link #OVERHEAD} bytes more
 * on the fabric. {@link FlowForwarder} writes it in the kernel for its IPv6 flows, {@link
 * EncapReceiver} checks it (version, length, reserved word zero, farm check, and that the inner
 * packet is IPv6 of the header's protocol, without extension headers, between the header's
 * addresses and ports) and strips it; this class writes and reads it in Java, for the first
 * datagram of an IPv6 UDP flow that the dispatcher sends itself ({@link #udpPayload}).
 *
 * <p>Immutable.
 */
public record EncapHeader6(
    int protocol,
    int connectionId,
    long farmCheck,
    Inet6Address client,
    int clientPort,
    Inet6Address vip,
    int vipPort) {
  public static final int LENGTH = 56;
  public static final int VERSION = 2;

  /** Bytes an encapsulation of an IPv6 packet adds: outer IPv4 (20), UDP (8), this header. */
  public static final int OVERHEAD = 20 + 8 + LENGTH;

  public EncapHeader6 {
    if (protocol != EncapHeader.TCP && protocol != EncapHeader.UDP)
      throw new IllegalArgumentException("protocol must be 6 or 17, not " + protocol);
    checkPort(clientPort);
    checkPort(vipPort);
  }

  /** The 56 bytes on the wire. */
  public byte[] toBytes() {
    ByteBuffer b = ByteBuffer.allocate(LENGTH);
    b.put((byte) VERSION).put((byte) protocol).putShort((short) LENGTH);
    b.putInt(connectionId).putLong(farmCheck);
    b.put(client.getAddress()).putShort((short) clientPort).putShort((short) vipPort);
    b.putInt(0).put(vip.getAddress());
    return b.array();
  }

  /**
   * The header at {@code offset} of {@code bytes}; refuses a short buffer, another version or
   * header length, a reserved word that is not zero, or a protocol other than TCP or UDP.
   */
  public static EncapHeader6 parse(byte[] bytes, int offset) {
    if (bytes.length - offset < LENGTH)
      throw new IllegalArgumentException(
          "a version 2 encapsulation header is " + LENGTH + " bytes");
    ByteBuffer b = ByteBuffer.wrap(bytes, offset, LENGTH);
    int version = b.get() & 0xff;
    if (version != VERSION)
      throw new IllegalArgumentException("encapsulation header version " + version);
    int protocol = b.get() & 0xff;
    int length = b.getShort() & 0xffff;
    if (length != LENGTH)
      throw new IllegalArgumentException("encapsulation header length " + length);
    int id = b.getInt();
    long check = b.getLong();
    Inet6Address client = address(b);
    int clientPort = b.getShort() & 0xffff;
    int vipPort = b.getShort() & 0xffff;
    int reserved = b.getInt();
    if (reserved != 0)
      throw new IllegalArgumentException("encapsulation header reserved word " + reserved);
    return new EncapHeader6(protocol, id, check, client, clientPort, address(b), vipPort);
  }

  /**
   * The whole UDP payload that delivers one client datagram to a server's {@link EncapReceiver}:
   * this header (protocol UDP), then the client's datagram as the inner IPv6 packet (client:port to
   * vip:port, traffic class and flow label 0, hop limit 64) with its UDP header (length, and the
   * checksum over the IPv6 pseudo-header, which UDP over IPv6 must carry) and {@code data}. Sent
   * from an ordinary UDP socket to the server's encapsulation port, the server's stack receives the
   * inner datagram as if the client had sent it there.
   */
  public byte[] udpPayload(byte[] data) {
    if (protocol != EncapHeader.UDP) throw new IllegalStateException("not a UDP flow's header");
    int udpLength = 8 + data.length;
    if (udpLength > 0xffff) throw new IllegalArgumentException("datagram too long: " + data.length);
    ByteBuffer b = ByteBuffer.allocate(LENGTH + 40 + udpLength);
    b.put(toBytes());
    int ip = b.position();
    b.putInt(0x6000_0000).putShort((short) udpLength).put((byte) EncapHeader.UDP).put((byte) 64);
    b.put(client.getAddress()).put(vip.getAddress());
    int udp = b.position();
    b.putShort((short) clientPort).putShort((short) vipPort);
    b.putShort((short) udpLength).putShort((short) 0);
    b.put(data);
    byte[] out = b.array();
    int udpSum =
        TcpSegment.internetChecksum(
            out,
            udp,
            udpLength,
            TcpSegment.pseudoHeaderSum(
                client.getAddress(), vip.getAddress(), EncapHeader.UDP, udpLength));
    if (udpSum == 0) udpSum = 0xffff; // zero on the wire would mean "no checksum", refused in IPv6
    out[udp + 6] = (byte) (udpSum >> 8);
    out[udp + 7] = (byte) udpSum;
    return out;
  }

  private static Inet6Address address(ByteBuffer b) {
    byte[] a = new byte[16];
    b.get(a);
    try {
      // getByAddress would turn an IPv4-mapped address into an Inet4Address
      return Inet6Address.getByAddress(null, a, null);
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // sixteen bytes are always an address
    }
  }

  private static void checkPort(int port) {
    if (port < 0 || port > 0xffff) throw new IllegalArgumentException("port " + port);
  }
}
