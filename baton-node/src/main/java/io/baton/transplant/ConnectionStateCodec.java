package io.baton.transplant;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The wire form of a {@link ConnectionState}: how one node hands a live connection to another.
 *
 * <p>Version 2 layout, all integers big-endian and unsigned:
 *
 * <pre>
 *  offset size field
 *       0    4 magic "BTCS"
 *       4    1 version (2)
 *       5    1 flags: bit0 timestamps, bit1 SACK, bit2 window scaling, bit3 the peer's FIN
 *              was received (receiveNextSeq counts it); other bits must be 0
 *       6    2 reserved, must be 0
 *       8    4 client IPv4 address
 *      12    2 client port
 *      14    4 local IPv4 address
 *      18    2 local port
 *      20   16 sendInitialSeq, sendNextSeq, receiveInitialSeq, receiveNextSeq (u32 each)
 *      36   20 window: sndWl1, sndWnd, maxWindow, rcvWnd, rcvWup (u32 each)
 *      56    2 mss
 *      58    1 send window scale
 *      59    1 receive window scale
 *      60    4 timestamp value
 *      64   16 receive queue length, receive queue already read,
 *              send queue length, send queue unsent (u32 each)
 *      80    - receive queue bytes, then send queue bytes; nothing may follow
 * </pre>
 *
 * <p>Version 3 is the same for an IPv6 connection, with the family after the flags and 16-byte
 * addresses, so every later field sits 24 bytes further on:
 *
 * <pre>
 *       6    1 address family: 6 (the only one version 3 carries; IPv4 states stay version 2)
 *       7    1 reserved, must be 0
 *       8   16 client IPv6 address
 *      24    2 client port
 *      26   16 local IPv6 address
 *      42    2 local port
 *      44   .. as version 2 from offset 20 (sequences, window, ..., queue lengths)
 *     104    - receive queue bytes, then send queue bytes
 * </pre>
 *
 * <p>An IPv4 state is written as version 2, byte for byte as before IPv6 existed, so nodes of an
 * IPv4 farm that run an older build still read it; an IPv6 state only as version 3. A v4-mapped
 * address in a version 3 state is refused (FlowKey).
 *
 * <p>Decoding trusts nothing: the input comes from another host. Every field is range-checked,
 * declared queue lengths are compared with {@link ConnectionState#MAX_QUEUE_BYTES} and with the
 * bytes actually present before anything is allocated, and every refusal is a {@link
 * StateFormatException} naming the field. A decoded state re-encodes to the identical bytes.
 *
 * <p>Version history: 1 had no FIN flag (only ESTABLISHED connections moved); 2 adds bit 3; 3 is
 * version 2 for IPv6. This build reads 2 and 3.
 *
 * <p>Stateless; all methods are safe to call from any thread. A buffer passed in must not be
 * modified by another thread while the call runs.
 */
public final class ConnectionStateCodec {
  /** The format version of IPv4 states (written and read). */
  public static final int VERSION = 2;

  /** The format version of IPv6 states (written and read). */
  public static final int VERSION_IPV6 = 3;

  /** Size of the fixed part that precedes the queue bytes (version 2, IPv4). */
  public static final int HEADER_BYTES = 80;

  /** Size of the fixed part of a version 3 (IPv6) state. */
  public static final int HEADER_BYTES_IPV6 = 104;

  private static final int FAMILY_IPV6 = 6;

  private static final int MAGIC = 0x42_54_43_53; // "BTCS"
  private static final int FLAG_TIMESTAMPS = 1;
  private static final int FLAG_SACK = 1 << 1;
  private static final int FLAG_WINDOW_SCALING = 1 << 2;
  private static final int FLAG_FIN_RECEIVED = 1 << 3;
  private static final int KNOWN_FLAGS =
      FLAG_TIMESTAMPS | FLAG_SACK | FLAG_WINDOW_SCALING | FLAG_FIN_RECEIVED;

  /** RFC 7323 section 2.3: a shift above 14 is not allowed. */
  private static final int MAX_WINDOW_SCALE = 14;

  private static final HexFormat HEX = HexFormat.of();

  private ConnectionStateCodec() {}

  /** The exact number of bytes {@link #encode(ConnectionState)} produces for {@code s}. */
  public static int encodedLength(ConnectionState s) {
    // Cannot overflow: each queue is at most MAX_QUEUE_BYTES (64 MiB).
    return headerBytes(s.flow().ipv6()) + s.receiveQueue().length + s.sendQueue().length;
  }

  private static int headerBytes(boolean ipv6) {
    return ipv6 ? HEADER_BYTES_IPV6 : HEADER_BYTES;
  }

  /** Encodes {@code s} into a new array of {@link #encodedLength} bytes. */
  public static byte[] encode(ConnectionState s) {
    byte[] bytes = new byte[encodedLength(s)];
    write(s, ByteBuffer.wrap(bytes));
    return bytes;
  }

  /**
   * Writes {@code s} at {@code out}'s position and advances the position past it. The buffer's own
   * byte order is ignored (the format is big-endian) and left unchanged.
   *
   * @throws IllegalArgumentException if {@code out} is read-only or has fewer than {@link
   *     #encodedLength} bytes remaining; nothing is written then
   */
  public static void encode(ConnectionState s, ByteBuffer out) {
    Objects.requireNonNull(out, "out");
    int length = encodedLength(s);
    if (out.isReadOnly()) {
      throw new IllegalArgumentException("cannot encode connection state into a read-only buffer");
    }
    if (out.remaining() < length) {
      throw new IllegalArgumentException(
          "connection state needs "
              + length
              + " bytes but the buffer has only "
              + out.remaining()
              + " remaining");
    }
    ByteBuffer target = out.duplicate().order(ByteOrder.BIG_ENDIAN);
    write(s, target);
    out.position(target.position());
  }

  /** Decodes one state that must occupy all of {@code bytes}. */
  public static ConnectionState decode(byte[] bytes) throws StateFormatException {
    return read(ByteBuffer.wrap(bytes));
  }

  /**
   * Decodes one state that must occupy all of {@code in} from its position to its limit. On success
   * the position is moved to the limit; on failure it is left where it was. The buffer's byte order
   * is ignored.
   */
  public static ConnectionState decode(ByteBuffer in) throws StateFormatException {
    ConnectionState s = read(in.duplicate().order(ByteOrder.BIG_ENDIAN));
    in.position(in.limit());
    return s;
  }

  private static void write(ConnectionState s, ByteBuffer b) {
    FlowKey flow = s.flow();
    b.putInt(MAGIC).put((byte) (flow.ipv6() ? VERSION_IPV6 : VERSION)).put((byte) flagsOf(s));
    b.put((byte) (flow.ipv6() ? FAMILY_IPV6 : 0)).put((byte) 0);
    b.put(flow.clientIp().getAddress()).putShort((short) flow.clientPort());
    b.put(flow.localIp().getAddress()).putShort((short) flow.localPort());
    b.putInt(s.sendInitialSeq()).putInt(s.sendNextSeq());
    b.putInt(s.receiveInitialSeq()).putInt(s.receiveNextSeq());
    ConnectionState.Window w = s.window();
    b.putInt(w.sndWl1()).putInt(w.sndWnd()).putInt(w.maxWindow());
    b.putInt(w.rcvWnd()).putInt(w.rcvWup());
    b.putShort((short) s.mss());
    b.put((byte) s.options().sndWscale()).put((byte) s.options().rcvWscale());
    b.putInt(s.timestampValue());
    b.putInt(s.receiveQueue().length).putInt(s.receiveQueueAlreadyRead());
    b.putInt(s.sendQueue().length).putInt(s.sendQueueUnsent());
    b.put(s.receiveQueue()).put(s.sendQueue());
  }

  /** Reads from a big-endian buffer that holds exactly one state between position and limit. */
  private static ConnectionState read(ByteBuffer b) throws StateFormatException {
    int available = b.remaining();
    boolean ipv6 = checkPreamble(b, available);
    b.position(b.position() + 5); // magic and version, already checked
    int flags = readFlags(b, ipv6);
    FlowKey flow = readFlow(b, ipv6);
    int sendInitialSeq = b.getInt();
    int sendNextSeq = b.getInt();
    int receiveInitialSeq = b.getInt();
    int receiveNextSeq = b.getInt();
    ConnectionState.Window window =
        new ConnectionState.Window(b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt());
    int mss = Short.toUnsignedInt(b.getShort());
    if (mss == 0) {
      throw new StateFormatException("mss 0 out of range 1..65535");
    }
    ConnectionState.TcpOptions options = readOptions(b, flags);
    int timestampValue = b.getInt();
    int receiveLength = readQueueLength(b, "receive queue length");
    int receiveAlreadyRead = readCount(b, "receive queue already-read count", receiveLength);
    int sendLength = readQueueLength(b, "send queue length");
    int sendUnsent = readCount(b, "send queue unsent count", sendLength);
    checkTotalLength(available, headerBytes(ipv6), receiveLength, sendLength);
    // Safe to allocate now: both lengths are bounded and the bytes are known to be present.
    byte[] receiveQueue = new byte[receiveLength];
    byte[] sendQueue = new byte[sendLength];
    b.get(receiveQueue).get(sendQueue);
    try {
      return new ConnectionState(
          flow,
          sendInitialSeq,
          sendNextSeq,
          receiveInitialSeq,
          receiveNextSeq,
          window,
          mss,
          options,
          timestampValue,
          receiveQueue,
          receiveAlreadyRead,
          sendQueue,
          sendUnsent,
          (flags & FLAG_FIN_RECEIVED) != 0);
    } catch (IllegalArgumentException e) {
      throw new StateFormatException("connection state rejected: " + e.getMessage(), e);
    }
  }

  /**
   * Checks magic and version before the header length, so that a foreign or newer payload is
   * reported as such rather than as merely short. Reads absolutely; the position is unchanged.
   */
  private static boolean checkPreamble(ByteBuffer b, int available) throws StateFormatException {
    int start = b.position();
    if (available >= 4 && b.getInt(start) != MAGIC) {
      throw new StateFormatException(
          "not a Baton connection state: magic is 0x"
              + HEX.toHexDigits(b.getInt(start))
              + ", expected 0x"
              + HEX.toHexDigits(MAGIC)
              + " (\"BTCS\")");
    }
    boolean ipv6 = false;
    if (available >= 5) {
      int version = Byte.toUnsignedInt(b.get(start + 4));
      if (version != VERSION && version != VERSION_IPV6) {
        throw new StateFormatException(
            "unsupported connection state version "
                + version
                + " (this build reads "
                + VERSION
                + " and "
                + VERSION_IPV6
                + ")"
                + (version > VERSION_IPV6
                    ? "; upgrade this node to match the exporting node"
                    : ""));
      }
      ipv6 = version == VERSION_IPV6;
    }
    int header = headerBytes(ipv6);
    if (available < header) {
      throw new StateFormatException(
          "connection state truncated: header needs " + header + " bytes, got " + available);
    }
    return ipv6;
  }

  private static int readFlags(ByteBuffer b, boolean ipv6) throws StateFormatException {
    int flags = Byte.toUnsignedInt(b.get());
    int unknown = flags & ~KNOWN_FLAGS;
    if (unknown != 0) {
      throw new StateFormatException(
          "connection state flags 0x"
              + HEX.toHexDigits((byte) flags)
              + " have unknown bits 0x"
              + HEX.toHexDigits((byte) unknown)
              + " set (this build knows 0x"
              + HEX.toHexDigits((byte) KNOWN_FLAGS)
              + ")");
    }
    if (ipv6) {
      int family = Byte.toUnsignedInt(b.get());
      if (family != FAMILY_IPV6) {
        throw new StateFormatException(
            "connection state version 3 address family is "
                + family
                + ", must be "
                + FAMILY_IPV6
                + " (IPv4 states are version 2)");
      }
      int reserved = Byte.toUnsignedInt(b.get());
      if (reserved != 0) {
        throw new StateFormatException(
            "connection state reserved field is " + reserved + ", must be 0");
      }
      return flags;
    }
    int reserved = Short.toUnsignedInt(b.getShort());
    if (reserved != 0) {
      throw new StateFormatException(
          "connection state reserved field is " + reserved + ", must be 0");
    }
    return flags;
  }

  private static FlowKey readFlow(ByteBuffer b, boolean ipv6) throws StateFormatException {
    InetAddress clientIp = ipv6 ? readIpv6(b, "client address") : readIpv4(b, "client address");
    int clientPort = readPort(b, "client port");
    InetAddress localIp = ipv6 ? readIpv6(b, "local address") : readIpv4(b, "local address");
    int localPort = readPort(b, "local port");
    try {
      return new FlowKey(clientIp, clientPort, localIp, localPort);
    } catch (IllegalArgumentException e) {
      throw new StateFormatException("connection state flow rejected: " + e.getMessage(), e);
    }
  }

  private static Inet4Address readIpv4(ByteBuffer b, String field) throws StateFormatException {
    byte[] address = new byte[4];
    b.get(address);
    try {
      // Four bytes always yield an Inet4Address; no name lookup happens.
      return (Inet4Address) InetAddress.getByAddress(address);
    } catch (UnknownHostException e) {
      throw new StateFormatException(field + " is not an IPv4 address", e);
    }
  }

  private static InetAddress readIpv6(ByteBuffer b, String field) throws StateFormatException {
    byte[] address = new byte[16];
    b.get(address);
    try {
      // Sixteen bytes yield an Inet6Address, or an Inet4Address for a v4-mapped address, which the
      // FlowKey then refuses; no name lookup happens.
      InetAddress a = InetAddress.getByAddress(address);
      if (!(a instanceof java.net.Inet6Address)) {
        throw new StateFormatException(
            field + " " + a.getHostAddress() + " is v4-mapped; an IPv4 connection is version 2");
      }
      return a;
    } catch (UnknownHostException e) {
      throw new StateFormatException(field + " is not an IPv6 address", e);
    }
  }

  private static int readPort(ByteBuffer b, String field) throws StateFormatException {
    int port = Short.toUnsignedInt(b.getShort());
    if (port == 0) {
      throw new StateFormatException(field + " 0 out of range 1..65535");
    }
    return port;
  }

  private static ConnectionState.TcpOptions readOptions(ByteBuffer b, int flags)
      throws StateFormatException {
    boolean windowScaling = (flags & FLAG_WINDOW_SCALING) != 0;
    int sndWscale = readWindowScale(b, "send window scale", windowScaling);
    int rcvWscale = readWindowScale(b, "receive window scale", windowScaling);
    try {
      return new ConnectionState.TcpOptions(
          (flags & FLAG_TIMESTAMPS) != 0,
          (flags & FLAG_SACK) != 0,
          windowScaling,
          sndWscale,
          rcvWscale);
    } catch (IllegalArgumentException e) {
      throw new StateFormatException("connection state options rejected: " + e.getMessage(), e);
    }
  }

  private static int readWindowScale(ByteBuffer b, String field, boolean windowScaling)
      throws StateFormatException {
    int scale = Byte.toUnsignedInt(b.get());
    if (scale > MAX_WINDOW_SCALE) {
      throw new StateFormatException(field + " " + scale + " out of range 0.." + MAX_WINDOW_SCALE);
    }
    if (!windowScaling && scale != 0) {
      throw new StateFormatException(
          field + " is " + scale + " but the window-scaling flag is off (must be 0)");
    }
    return scale;
  }

  private static int readQueueLength(ByteBuffer b, String field) throws StateFormatException {
    long length = Integer.toUnsignedLong(b.getInt());
    if (length > ConnectionState.MAX_QUEUE_BYTES) {
      throw new StateFormatException(
          field + " " + length + " exceeds the " + ConnectionState.MAX_QUEUE_BYTES + "-byte limit");
    }
    return (int) length;
  }

  /** Reads a u32 count of bytes within a queue of {@code queueLength} bytes. */
  private static int readCount(ByteBuffer b, String field, int queueLength)
      throws StateFormatException {
    long count = Integer.toUnsignedLong(b.getInt());
    if (count > queueLength) {
      throw new StateFormatException(
          field + " " + count + " exceeds the queue's length " + queueLength);
    }
    return (int) count;
  }

  private static void checkTotalLength(int available, int header, int receiveLength, int sendLength)
      throws StateFormatException {
    long declared = (long) header + receiveLength + sendLength;
    if (available < declared) {
      throw new StateFormatException(
          "connection state truncated: header declares "
              + declared
              + " bytes ("
              + header
              + " header + "
              + receiveLength
              + " receive queue + "
              + sendLength
              + " send queue), got "
              + available);
    }
    if (available > declared) {
      throw new StateFormatException(
          "connection state has "
              + (available - declared)
              + " trailing bytes after the "
              + declared
              + " it declares");
    }
  }

  private static int flagsOf(ConnectionState s) {
    ConnectionState.TcpOptions options = s.options();
    return (options.timestamps() ? FLAG_TIMESTAMPS : 0)
        | (options.sack() ? FLAG_SACK : 0)
        | (options.windowScaling() ? FLAG_WINDOW_SCALING : 0)
        | (s.finReceived() ? FLAG_FIN_RECEIVED : 0);
  }
}
