package io.baton.sync;

import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.crypto.Mac;

/**
 * The wire form of the sync plane's messages, each sealed with HMAC-SHA256 under the sync plane's
 * seal key. JGroups already encrypts the message; the seal adds what its cipher (AES-CBC) does not
 * give, integrity: a message that was not made with the cluster key, or was changed on the way, is
 * refused before any field is read.
 *
 * <pre>
 * load report:  "BSR" 1 | node (u8 length, UTF-8) | roles (u8 length) | fabric address (4)
 *               | incarnation (i64) | sequence (i64) | active (i32) | handoffs/s (i32)
 *               | cpu permille (i32) | flags (u8: 1 healthy, 2 draining) | health (u8 length, UTF-8)
 *               | services (u8 count, count x [vip (4) | port (u16)]) | HMAC-SHA256 (32)
 * ownership:    "BSO" 1 | node | fabric address (4) | incarnation (i64) | sequence (i64)
 *               | count (u16) | count x [op (u8: 1 open, 0 close) | client ip (4) | client port (u16)
 *               | vip (4) | vip port (u16) | handoff id (i64)] | HMAC-SHA256 (32)
 * </pre>
 *
 * <p>Not thread-safe ({@link Mac}): one instance per thread.
 */
final class SyncCodec {
  static final int MAX_REPORT_BYTES = 1024;
  private static final int CHANGE_BYTES = 1 + 4 + 2 + 4 + 2 + 8;
  static final int MAX_BYTES =
      4
          + 1
          + NodeReport.MAX_TEXT_BYTES
          + 4
          + 8
          + 8
          + 2
          + OwnershipUpdate.MAX_CHANGES * CHANGE_BYTES
          + 32;
  private static final byte[] REPORT = {'B', 'S', 'R', 1};
  private static final byte[] OWNERSHIP = {'B', 'S', 'O', 1};
  private static final int TAG_BYTES = 32;
  private static final int HEALTHY = 1;
  private static final int DRAINING = 2;

  /** The bytes are not a message sealed with this cluster's key, or not a well-formed one. */
  static final class RejectedException extends Exception {
    private static final long serialVersionUID = 1L;

    RejectedException(String message) {
      super(message);
    }
  }

  private final Mac mac;

  SyncCodec(SyncKeys keys) {
    this.mac = SyncKeys.hmac(keys.reportKey());
  }

  byte[] encode(NodeReport r) {
    ByteBuffer b = ByteBuffer.allocate(MAX_REPORT_BYTES);
    b.put(REPORT);
    putText(b, r.node());
    putText(b, r.roles());
    b.put(r.fabricAddress().getAddress());
    b.putLong(r.incarnation()).putLong(r.sequence());
    b.putInt(r.activeConnections()).putInt(r.handoffsPerSecond()).putInt(r.cpuPermille());
    b.put((byte) ((r.healthy() ? HEALTHY : 0) | (r.draining() ? DRAINING : 0)));
    putText(b, r.health());
    b.put((byte) r.services().size());
    for (var a : r.services()) b.put(a.getAddress().getAddress()).putShort((short) a.getPort());
    return seal(b);
  }

  byte[] encode(OwnershipUpdate u) {
    ByteBuffer b = ByteBuffer.allocate(MAX_BYTES);
    b.put(OWNERSHIP);
    putText(b, u.node());
    b.put(u.fabricAddress().getAddress());
    b.putLong(u.incarnation()).putLong(u.sequence());
    b.putShort((short) u.changes().size());
    for (OwnershipUpdate.Change c : u.changes()) {
      FlowKey f = c.flow().requireIpv4("the sync plane's ownership records");
      b.put((byte) (c.open() ? 1 : 0));
      b.put(f.clientIp().getAddress()).putShort((short) f.clientPort());
      b.put(f.localIp().getAddress()).putShort((short) f.localPort());
      b.putLong(c.handoffId());
    }
    return seal(b);
  }

  private byte[] seal(ByteBuffer b) {
    mac.update(b.array(), 0, b.position());
    b.put(mac.doFinal());
    return Arrays.copyOf(b.array(), b.position());
  }

  /** A load report or an ownership update, unsealed and parsed. */
  Object decode(byte[] bytes, int offset, int length) throws RejectedException {
    if (length < REPORT.length + TAG_BYTES || length > MAX_BYTES) {
      throw new RejectedException(
          "a sync message is "
              + (REPORT.length + TAG_BYTES)
              + ".."
              + MAX_BYTES
              + " bytes, got "
              + length);
    }
    boolean report = Arrays.equals(bytes, offset, offset + 4, REPORT, 0, 4);
    if (!report && !Arrays.equals(bytes, offset, offset + 4, OWNERSHIP, 0, 4)) {
      throw new RejectedException("not a Baton sync message (bad magic or version)");
    }
    int bodyLength = length - TAG_BYTES;
    mac.update(bytes, offset, bodyLength);
    byte[] expected = mac.doFinal();
    byte[] tag = Arrays.copyOfRange(bytes, offset + bodyLength, offset + length);
    if (!MessageDigest.isEqual(expected, tag)) {
      throw new RejectedException(
          "bad seal: not made with this farm's cluster key, or changed on the way");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, offset + 4, bodyLength - 4);
    try {
      Object message = report ? report(b) : ownership(b);
      if (b.hasRemaining())
        throw new RejectedException(b.remaining() + " bytes after the last field");
      return message;
    } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
      throw new RejectedException("truncated message");
    } catch (IllegalArgumentException | UnknownHostException e) {
      throw new RejectedException("bad field: " + e.getMessage());
    }
  }

  /** For tests and callers that expect a report. */
  NodeReport decodeReport(byte[] bytes, int offset, int length) throws RejectedException {
    if (decode(bytes, offset, length) instanceof NodeReport r) return r;
    throw new RejectedException("not a load report");
  }

  private static NodeReport report(ByteBuffer b) throws RejectedException, UnknownHostException {
    String node = text(b);
    String roles = text(b);
    Inet4Address fabric = address(b);
    long incarnation = b.getLong();
    long sequence = b.getLong();
    int active = b.getInt();
    int handoffs = b.getInt();
    int cpu = b.getInt();
    int flags = b.get() & 0xff;
    String health = text(b);
    int count = b.get() & 0xff;
    if (count > NodeReport.MAX_SERVICES)
      throw new RejectedException(count + " services in one report");
    List<java.net.InetSocketAddress> services = new ArrayList<>(count);
    for (int i = 0; i < count; i++)
      services.add(new java.net.InetSocketAddress(address(b), b.getShort() & 0xffff));
    return new NodeReport(
        node,
        roles,
        fabric,
        incarnation,
        sequence,
        active,
        handoffs,
        cpu,
        (flags & HEALTHY) != 0,
        health,
        (flags & DRAINING) != 0,
        services);
  }

  private static OwnershipUpdate ownership(ByteBuffer b)
      throws RejectedException, UnknownHostException {
    String node = text(b);
    Inet4Address fabric = address(b);
    long incarnation = b.getLong();
    long sequence = b.getLong();
    int count = b.getShort() & 0xffff;
    if (count > OwnershipUpdate.MAX_CHANGES)
      throw new RejectedException(count + " changes in one update");
    List<OwnershipUpdate.Change> changes = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int op = b.get() & 0xff;
      if (op > 1) throw new RejectedException("unknown ownership change " + op);
      Inet4Address clientIp = address(b);
      int clientPort = b.getShort() & 0xffff;
      Inet4Address vip = address(b);
      int vipPort = b.getShort() & 0xffff;
      changes.add(
          new OwnershipUpdate.Change(
              op == 1, new FlowKey(clientIp, clientPort, vip, vipPort), b.getLong()));
    }
    return new OwnershipUpdate(node, fabric, incarnation, sequence, changes);
  }

  private static Inet4Address address(ByteBuffer b) throws UnknownHostException {
    byte[] ip = new byte[4];
    b.get(ip);
    return (Inet4Address) InetAddress.getByAddress(ip);
  }

  private static void putText(ByteBuffer b, String s) {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    while (utf8.length
        > NodeReport.MAX_TEXT_BYTES) { // cut whole characters, never a UTF-8 sequence
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
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(slice)
          .toString();
    } catch (CharacterCodingException e) {
      throw new RejectedException("text field is not UTF-8");
    }
  }
}
