package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Lays out netlink messages in a growable native buffer, ready for one sendto(2): {@code struct
 * nlmsghdr} and attribute headers in host byte order, every message and attribute padded to 4 bytes
 * ({@code NLMSG_ALIGN}, {@code NLA_ALIGN} in {@code linux/netlink.h}). Each family's fixed header
 * follows the message header: {@code struct nfgenmsg} for netfilter ({@link #beginMessage(int, int,
 * int, int, int)}), or one the caller lays out field by field with {@link #putHeaderByte}/{@link
 * #putHeaderShort}/{@link #putHeaderInt} (rtnetlink's {@code struct ifaddrmsg}, {@code struct
 * ifinfomsg}).
 *
 * <p>Not thread-safe: used by the one thread that owns the socket it writes for.
 */
final class NetlinkWriter {
  // linux/netlink.h
  static final int NLMSG_HDRLEN = 16;
  static final int NLA_HDRLEN = 4;
  static final int NLA_F_NESTED = 1 << 15;
  // linux/netfilter/nfnetlink.h: struct nfgenmsg
  static final int NFGENMSG_LEN = 4;
  static final int NFNETLINK_V0 = 0;

  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
  private static final ValueLayout.OfShort BE16 = U16.withOrder(ByteOrder.BIG_ENDIAN);
  private static final ValueLayout.OfLong BE64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  private MemorySegment buffer;
  private int position;

  NetlinkWriter(int initialBytes) {
    buffer = Arena.ofAuto().allocate(initialBytes, 8);
  }

  /** Forgets everything written; the buffer is kept for the next batch. */
  void reset() {
    position = 0;
  }

  int size() {
    return position;
  }

  /** What has been written so far, for sendto(2). Valid until the next write. */
  MemorySegment written() {
    return buffer.asSlice(0, position);
  }

  /**
   * Starts a message with an {@code nfgenmsg} header; returns its start for {@link #endMessage}.
   * {@code resourceId} is written in network byte order, as the kernel reads it.
   */
  int beginMessage(int type, int flags, int seq, int family, int resourceId) {
    int start = beginMessage(type, flags, seq);
    putHeaderByte(family);
    putHeaderByte(NFNETLINK_V0);
    reserve(2);
    buffer.set(BE16, position, (short) resourceId);
    position += 2;
    return start;
  }

  /**
   * Starts a message with the bare {@code nlmsghdr}; the caller then writes its family's fixed
   * header (whose size must be a multiple of 4) before any attribute. Returns its start for {@link
   * #endMessage}.
   */
  int beginMessage(int type, int flags, int seq) {
    int start = position;
    reserve(NLMSG_HDRLEN);
    buffer.set(U32, start, 0); // nlmsg_len, set by endMessage
    buffer.set(U16, start + 4, (short) type);
    buffer.set(U16, start + 6, (short) flags);
    buffer.set(U32, start + 8, seq);
    buffer.set(U32, start + 12, 0); // nlmsg_pid: 0 addresses the kernel
    position = start + NLMSG_HDRLEN;
    return start;
  }

  /** One byte of a family's fixed header, e.g. {@code ifa_prefixlen}. */
  void putHeaderByte(int value) {
    reserve(1);
    buffer.set(JAVA_BYTE, position, (byte) value);
    position += 1;
  }

  /** A host-order 16-bit field of a family's fixed header, e.g. {@code ifi_type}. */
  void putHeaderShort(int value) {
    reserve(2);
    buffer.set(U16, position, (short) value);
    position += 2;
  }

  /** A host-order 32-bit field of a family's fixed header, e.g. {@code ifa_index}. */
  void putHeaderInt(int value) {
    reserve(4);
    buffer.set(U32, position, value);
    position += 4;
  }

  void endMessage(int start) {
    buffer.set(U32, start, position - start);
  }

  /** A NUL-terminated string attribute ({@code NLA_STRING} as libmnl's {@code attr_put_strz}). */
  void putString(int type, String value) {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    int start = beginAttribute(type, bytes.length + 1);
    MemorySegment.copy(bytes, 0, buffer, JAVA_BYTE, start + NLA_HDRLEN, bytes.length);
    buffer.set(JAVA_BYTE, start + NLA_HDRLEN + bytes.length, (byte) 0);
    endAttribute(start, bytes.length + 1);
  }

  void putBytes(int type, byte[] value) {
    int start = beginAttribute(type, value.length);
    MemorySegment.copy(value, 0, buffer, JAVA_BYTE, start + NLA_HDRLEN, value.length);
    endAttribute(start, value.length);
  }

  /** A 64-bit attribute in network byte order (nf_tables reads timeouts with nla_get_be64). */
  void putBigEndianLong(int type, long value) {
    int start = beginAttribute(type, 8);
    buffer.set(BE64, start + NLA_HDRLEN, value);
    endAttribute(start, 8);
  }

  /** Opens a nested attribute; returns its start for {@link #endNest}. */
  int beginNest(int type) {
    int start = position;
    reserve(NLA_HDRLEN);
    buffer.set(U16, start + 2, (short) (type | NLA_F_NESTED));
    position = start + NLA_HDRLEN;
    return start;
  }

  void endNest(int start) {
    int length = position - start;
    if (length > 0xFFFF) {
      throw new IllegalArgumentException("netlink attribute of " + length + " bytes exceeds 65535");
    }
    buffer.set(U16, start, (short) length);
  }

  private int beginAttribute(int type, int payloadBytes) {
    if (NLA_HDRLEN + payloadBytes > 0xFFFF) {
      throw new IllegalArgumentException(
          "netlink attribute of " + payloadBytes + " bytes is too long");
    }
    int start = position;
    reserve(align(NLA_HDRLEN + payloadBytes));
    buffer.set(U16, start, (short) (NLA_HDRLEN + payloadBytes));
    buffer.set(U16, start + 2, (short) type);
    return start;
  }

  private void endAttribute(int start, int payloadBytes) {
    int end = start + NLA_HDRLEN + payloadBytes;
    int padded = align(end);
    buffer.asSlice(end, padded - end).fill((byte) 0);
    position = padded;
  }

  private void reserve(int bytes) {
    long needed = (long) position + bytes;
    if (needed <= buffer.byteSize()) return;
    if (needed > Integer.MAX_VALUE / 2)
      throw new IllegalArgumentException("netlink batch too large");
    long capacity = Math.max(needed, buffer.byteSize() * 2);
    MemorySegment bigger = Arena.ofAuto().allocate(capacity, 8);
    MemorySegment.copy(buffer, 0, bigger, 0, position);
    buffer = bigger;
  }

  static int align(int length) {
    return (length + 3) & ~3;
  }
}
