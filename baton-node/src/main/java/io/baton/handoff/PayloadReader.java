package io.baton.handoff;

import io.netty.buffer.ByteBuf;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads the fields of one message payload and refuses, with a {@link FrameFormatException} naming
 * the field, anything that is short, out of range or not valid UTF-8 — before allocating anything
 * sized by the peer. Never throws an unchecked exception for bad input.
 *
 * <p>Confined to the calling thread; wraps a buffer it does not own or release.
 */
final class PayloadReader {
  private final ByteBuf buf;
  private final MessageType type;

  PayloadReader(ByteBuf buf, MessageType type) {
    this.buf = buf;
    this.type = type;
  }

  long readLong(String field) throws FrameFormatException {
    need(Long.BYTES, field);
    return buf.readLong();
  }

  int readUnsignedByte(String field) throws FrameFormatException {
    need(1, field);
    return buf.readUnsignedByte();
  }

  long readNotNegativeLong(String field) throws FrameFormatException {
    long v = readLong(field);
    if (v < 0) throw refuse(field + " is negative: " + v);
    return v;
  }

  int readNotNegativeInt(String field) throws FrameFormatException {
    need(Integer.BYTES, field);
    int v = buf.readInt();
    if (v < 0) throw refuse(field + " is negative: " + v);
    return v;
  }

  int readUnsignedShort(String field) throws FrameFormatException {
    need(Short.BYTES, field);
    return buf.readUnsignedShort();
  }

  int readPort(String field) throws FrameFormatException {
    need(Short.BYTES, field);
    int port = buf.readUnsignedShort();
    if (port == 0) throw refuse(field + " is 0");
    return port;
  }

  Inet4Address readIpv4(String field) throws FrameFormatException {
    return ipv4(readBytes(4, field));
  }

  /** The IPv4 address of 4 bytes. */
  static Inet4Address ipv4(byte[] raw) {
    try {
      return (Inet4Address) InetAddress.getByAddress(raw);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 bytes are an IPv4 address", e);
    }
  }

  /** 16 address bytes; a v4-mapped address (read back as IPv4 by Java) is refused. */
  InetAddress readIpv6(String field) throws FrameFormatException {
    byte[] raw = readBytes(16, field);
    try {
      InetAddress a = InetAddress.getByAddress(raw);
      if (!(a instanceof java.net.Inet6Address)) {
        throw refuse(field + " " + a.getHostAddress() + " is a v4-mapped IPv6 address");
      }
      return a;
    } catch (UnknownHostException e) {
      throw refuse(field + ": " + e.getMessage()); // cannot happen for 16 bytes
    }
  }

  byte[] readBytes(int n, String field) throws FrameFormatException {
    need(n, field);
    byte[] b = new byte[n];
    buf.readBytes(b);
    return b;
  }

  /** A byte array preceded by its unsigned 32-bit length. */
  byte[] readBlob(String field) throws FrameFormatException {
    need(Integer.BYTES, field + " length");
    long length = buf.readUnsignedInt();
    if (length > buf.readableBytes()) {
      throw refuse(
          field
              + " length "
              + length
              + " exceeds the "
              + buf.readableBytes()
              + " bytes left in the frame");
    }
    return readBytes((int) length, field);
  }

  /** A UTF-8 string preceded by its unsigned 16-bit length, at most {@code maxBytes} long. */
  String readString(String field, int maxBytes) throws FrameFormatException {
    need(Short.BYTES, field + " length");
    int length = buf.readUnsignedShort();
    if (length > maxBytes) {
      throw refuse(field + " is " + length + " bytes, limit " + maxBytes);
    }
    need(length, field);
    try {
      String s =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(buf.nioBuffer(buf.readerIndex(), length))
              .toString();
      buf.skipBytes(length);
      return s;
    } catch (CharacterCodingException e) {
      throw refuse(field + " is not valid UTF-8");
    }
  }

  void expectEnd() throws FrameFormatException {
    if (buf.isReadable()) throw refuse(buf.readableBytes() + " unexpected trailing bytes");
  }

  FrameFormatException refuse(String reason) {
    return new FrameFormatException(type + " payload: " + reason);
  }

  private void need(int n, String field) throws FrameFormatException {
    if (buf.readableBytes() < n) {
      throw refuse(
          "truncated at " + field + " (" + n + " bytes needed, " + buf.readableBytes() + " left)");
    }
  }
}
