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
 * <p>Decoding trusts nothing: the input comes from another host. Every field is range-checked,
 * declared queue lengths are compared with {@link ConnectionState#MAX_QUEUE_BYTES} and with the
 * bytes actually present before anything is allocated, and every refusal is a {@link
 * StateFormatException} naming the field. A decoded state re-encodes to the identical bytes.
 *
 * <p>Version history: 1 had no FIN flag (only ESTABLISHED connections moved); 2 adds bit 3. A node
 * reads only its own version, so nodes of one farm must run the same format.
 *
 * <p>Stateless; all methods are safe to call from any thread. A buffer passed in must not be
 * modified by another thread while the call runs.
 */
public final class ConnectionStateCodec {
  /** The format version this build writes and the only one it reads. */
  public static final int VERSION = 2;

  /** Size of the fixed part that precedes the queue bytes. */
  public static final int HEADER_BYTES = 80;

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
    return HEADER_BYTES + s.receiveQueue().length + s.sendQueue().length;
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
    b.putInt(MAGIC).put((byte) VERSION).put((byte) flagsOf(s)).putShort((short) 0);
    FlowKey flow = s.flow();
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
    checkPreamble(b, available);
    b.position(b.position() + 5); // magic and version, already checked
    int flags = readFlags(b);
    FlowKey flow = readFlow(b);
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
    checkTotalLength(available, receiveLength, sendLength);
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
  private static void checkPreamble(ByteBuffer b, int available) throws StateFormatException {
    int start = b.position();
    if (available >= 4 && b.getInt(start) != MAGIC) {
      throw new StateFormatException(
          "not a Baton connection state: magic is 0x"
              + HEX.toHexDigits(b.getInt(start))
              + ", expected 0x"
              + HEX.toHexDigits(MAGIC)
              + " (\"BTCS\")");
    }
    if (available >= 5) {
      int version = Byte.toUnsignedInt(b.get(start + 4));
      if (version != VERSION) {
        throw new StateFormatException(
            "unsupported connection state version "
                + version
                + " (this build reads "
                + VERSION
                + ")"
                + (version > VERSION ? "; upgrade this node to match the exporting node" : ""));
      }
    }
    if (available < HEADER_BYTES) {
      throw new StateFormatException(
          "connection state truncated: header needs " + HEADER_BYTES + " bytes, got " + available);
    }
  }

  private static int readFlags(ByteBuffer b) throws StateFormatException {
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
    int reserved = Short.toUnsignedInt(b.getShort());
    if (reserved != 0) {
      throw new StateFormatException(
          "connection state reserved field is " + reserved + ", must be 0");
    }
    return flags;
  }

  private static FlowKey readFlow(ByteBuffer b) throws StateFormatException {
    Inet4Address clientIp = readIpv4(b, "client address");
    int clientPort = readPort(b, "client port");
    Inet4Address localIp = readIpv4(b, "local address");
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

  private static void checkTotalLength(int available, int receiveLength, int sendLength)
      throws StateFormatException {
    long declared = (long) HEADER_BYTES + receiveLength + sendLength;
    if (available < declared) {
      throw new StateFormatException(
          "connection state truncated: header declares "
              + declared
              + " bytes ("
              + HEADER_BYTES
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
