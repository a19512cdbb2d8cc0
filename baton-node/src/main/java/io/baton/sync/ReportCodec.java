package io.baton.sync;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Mac;

/**
 * The wire form of a {@link NodeReport}: a fixed layout sealed with HMAC-SHA256 under the
 * sync plane's report key. JGroups already encrypts the message; the seal adds what its cipher
 * (AES-CBC) does not give, integrity: a message that was not made with the cluster key, or was
 * changed on the way, is refused before any field is read.
 *
 * <pre>
 * "BSR" 1 | node (u8 length, UTF-8) | roles (u8 length, ASCII) | fabric address (4)
 * | incarnation (i64) | sequence (i64) | active (i32) | handoffs/s (i32) | cpu permille (i32)
 * | flags (u8: 1 healthy, 2 draining) | health (u8 length, UTF-8) | HMAC-SHA256 (32)
 * </pre>
 *
 * <p>Not thread-safe ({@link Mac}): one instance per thread.
 */
final class ReportCodec {
  static final int MAX_BYTES = 1024;
  private static final byte[] MAGIC = {'B', 'S', 'R', 1};
  private static final int TAG_BYTES = 32;
  private static final int HEALTHY = 1;
  private static final int DRAINING = 2;

  /** The bytes are not a report sealed with this cluster's key. */
  static final class RejectedException extends Exception {
    private static final long serialVersionUID = 1L;

    RejectedException(String message) {
      super(message);
    }
  }

  private final Mac mac;

  ReportCodec(SyncKeys keys) {
    this.mac = SyncKeys.hmac(keys.reportKey());
  }

  byte[] encode(NodeReport r) {
    ByteBuffer b = ByteBuffer.allocate(MAX_BYTES);
    b.put(MAGIC);
    putText(b, r.node());
    putText(b, r.roles());
    b.put(r.fabricAddress().getAddress());
    b.putLong(r.incarnation()).putLong(r.sequence());
    b.putInt(r.activeConnections()).putInt(r.handoffsPerSecond()).putInt(r.cpuPermille());
    b.put((byte) ((r.healthy() ? HEALTHY : 0) | (r.draining() ? DRAINING : 0)));
    putText(b, r.health());
    mac.update(b.array(), 0, b.position());
    b.put(mac.doFinal());
    return Arrays.copyOf(b.array(), b.position());
  }

  NodeReport decode(byte[] bytes, int offset, int length) throws RejectedException {
    if (length < MAGIC.length + TAG_BYTES || length > MAX_BYTES) {
      throw new RejectedException("a report is " + (MAGIC.length + TAG_BYTES) + ".." + MAX_BYTES
          + " bytes, got " + length);
    }
    if (!Arrays.equals(bytes, offset, offset + MAGIC.length, MAGIC, 0, MAGIC.length)) {
      throw new RejectedException("not a Baton load report (bad magic or version)");
    }
    int bodyLength = length - TAG_BYTES;
    mac.update(bytes, offset, bodyLength);
    byte[] expected = mac.doFinal();
    byte[] tag = Arrays.copyOfRange(bytes, offset + bodyLength, offset + length);
    if (!MessageDigest.isEqual(expected, tag)) {
      throw new RejectedException("bad seal: not made with this farm's cluster key, or changed on the way");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, offset + MAGIC.length, bodyLength - MAGIC.length);
    try {
      String node = text(b);
      String roles = text(b);
      byte[] ip = new byte[4];
      b.get(ip);
      long incarnation = b.getLong();
      long sequence = b.getLong();
      int active = b.getInt();
      int handoffs = b.getInt();
      int cpu = b.getInt();
      int flags = b.get() & 0xff;
      String health = text(b);
      if (b.hasRemaining()) throw new RejectedException(b.remaining() + " bytes after the last field");
      return new NodeReport(node, roles, (Inet4Address) InetAddress.getByAddress(ip), incarnation, sequence,
          active, handoffs, cpu, (flags & HEALTHY) != 0, health, (flags & DRAINING) != 0);
    } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
      throw new RejectedException("truncated report");
    } catch (IllegalArgumentException | UnknownHostException e) {
      throw new RejectedException("bad field: " + e.getMessage());
    }
  }

  private static void putText(ByteBuffer b, String s) {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    while (utf8.length > NodeReport.MAX_TEXT_BYTES) { // cut whole characters, never a UTF-8 sequence
      s = s.substring(0, s.length() - 1);
      utf8 = s.getBytes(StandardCharsets.UTF_8);
    }
    b.put((byte) utf8.length).put(utf8);
  }

  private static String text(ByteBuffer b) throws RejectedException {
    int n = b.get() & 0xff;
    if (n > NodeReport.MAX_TEXT_BYTES) throw new RejectedException("text field of " + n + " bytes");
    ByteBuffer slice = b.slice(b.position(), n);
    b.position(b.position() + n);
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(slice).toString();
    } catch (CharacterCodingException e) {
      throw new RejectedException("text field is not UTF-8");
    }
  }
}
