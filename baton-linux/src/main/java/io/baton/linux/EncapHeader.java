package io.baton.linux;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Baton's encapsulation header: the 28 bytes between the outer UDP header and the inner IPv4 packet
 * of a forwarded packet, in network byte order: {@code u8 version (1) | u8 inner protocol (6 or 17)
 * | u16 header length (28) | u32 connection id | 8 bytes farm check | u32 client ip | u16 client
 * port | u16 vip port | u32 vip}. The farm check (derived from the cluster key by the caller) keeps
 * a server from taking a datagram anyone could send; the client and VIP addresses and ports are the
 * reference the inner packet must match. {@link FlowForwarder} writes it in the kernel, {@link
 * EncapReceiver} checks and strips it; this class writes and reads it in Java, for the first
 * datagram of a UDP flow that the dispatcher sends itself ({@link #udpPayload}).
 *
 * <p>Immutable.
 */
public record EncapHeader(
    int protocol,
    int connectionId,
    long farmCheck,
    Inet4Address client,
    int clientPort,
    Inet4Address vip,
    int vipPort) {
  public static final int LENGTH = 28;
  public static final int VERSION = 1;
  public static final int TCP = 6, UDP = 17;

  public EncapHeader {
    if (protocol != TCP && protocol != UDP)
      throw new IllegalArgumentException("protocol must be 6 or 17, not " + protocol);
    checkPort(clientPort);
    checkPort(vipPort);
  }

  /** The 28 bytes on the wire. */
  public byte[] toBytes() {
    ByteBuffer b = ByteBuffer.allocate(LENGTH);
    b.put((byte) VERSION).put((byte) protocol).putShort((short) LENGTH);
    b.putInt(connectionId).putLong(farmCheck);
    b.put(client.getAddress()).putShort((short) clientPort).putShort((short) vipPort);
    b.put(vip.getAddress());
    return b.array();
  }

  /**
   * The header at {@code offset} of {@code bytes}; refuses a short buffer, another version or
   * header length, or a protocol other than TCP or UDP.
   */
  public static EncapHeader parse(byte[] bytes, int offset) {
    if (bytes.length - offset < LENGTH)
      throw new IllegalArgumentException("an encapsulation header is " + LENGTH + " bytes");
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
    Inet4Address client = address(b);
    int clientPort = b.getShort() & 0xffff;
    int vipPort = b.getShort() & 0xffff;
    return new EncapHeader(protocol, id, check, client, clientPort, address(b), vipPort);
  }

  /**
   * The whole UDP payload that delivers one client datagram to a server's {@link EncapReceiver}:
   * this header (protocol UDP), then the client's datagram as the inner IPv4 packet (client:port to
   * vip:port, TTL 64, DF, header checksum) with its UDP header (length, checksum over the
   * pseudo-header) and {@code data}. Sent from an ordinary UDP socket to the server's encapsulation
   * port, the server's stack receives the inner datagram as if the client had sent it there.
   */
  public byte[] udpPayload(byte[] data) {
    if (protocol != UDP) throw new IllegalStateException("not a UDP flow's header");
    int udpLength = 8 + data.length;
    int ipLength = 20 + udpLength;
    if (ipLength > 0xffff) throw new IllegalArgumentException("datagram too long: " + data.length);
    ByteBuffer b = ByteBuffer.allocate(LENGTH + ipLength);
    b.put(toBytes());
    int ip = b.position();
    b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength);
    b.putShort((short) 0).putShort((short) 0x4000); // id 0, DF
    b.put((byte) 64).put((byte) UDP).putShort((short) 0);
    b.put(client.getAddress()).put(vip.getAddress());
    int udp = b.position();
    b.putShort((short) clientPort).putShort((short) vipPort);
    b.putShort((short) udpLength).putShort((short) 0);
    b.put(data);
    byte[] out = b.array();
    int ipSum = TcpSegment.internetChecksum(out, ip, 20, 0);
    out[ip + 10] = (byte) (ipSum >> 8);
    out[ip + 11] = (byte) ipSum;
    int pseudo = TcpSegment.pseudoHeaderSum(client.getAddress(), vip.getAddress(), UDP, udpLength);
    int udpSum = TcpSegment.internetChecksum(out, udp, udpLength, pseudo);
    if (udpSum == 0) udpSum = 0xffff; // zero on the wire means "no checksum"
    out[udp + 6] = (byte) (udpSum >> 8);
    out[udp + 7] = (byte) udpSum;
    return out;
  }

  private static Inet4Address address(ByteBuffer b) {
    byte[] a = new byte[4];
    b.get(a);
    try {
      return (Inet4Address) InetAddress.getByAddress(a);
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // four bytes are always an address
    }
  }

  private static void checkPort(int port) {
    if (port < 0 || port > 0xffff) throw new IllegalArgumentException("port " + port);
  }
}
