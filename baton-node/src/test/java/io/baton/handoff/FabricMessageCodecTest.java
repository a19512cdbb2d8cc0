package io.baton.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.Hello;
import io.baton.handoff.FabricMessage.LoadReport;
import io.baton.handoff.FabricMessage.Refused;
import io.baton.transplant.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Unit tests for {@link FabricMessageCodec}: round trips, strict refusals, fuzz. */
class FabricMessageCodecTest {
  static Stream<FabricMessage> samples() {
    byte[] state = new byte[1000];
    new Random(1).nextBytes(state);
    return Stream.of(
        new Hello("dispatcher-1", nonce(7)),
        new Hello("ü-ñøde-名前", nonce(8)),
        new Hello("server-a", nonce(9), 33_619_968),
        new Handoff(17, state, "198.18.0.100:80", "web", "GET /x host=y"),
        new Handoff(Long.MAX_VALUE, new byte[0], "", "", ""),
        new Handoff(18, state, "198.18.0.100:80", "", "migrated", new byte[] {1, 2, 3}),
        new Accepted(17),
        new Accepted(-1),
        new Refused(17, "no capacity ✓"),
        new Refused(0, ""),
        new Closed(new FlowKey(ip("198.18.0.7"), 50000, ip("198.18.0.100"), 80), 9, 123, 456789),
        new Closed(
            new FlowKey(ip("255.255.255.255"), 65535, ip("0.0.0.0"), 1), -1, 0, Long.MAX_VALUE),
        new FabricMessage.Abort(17),
        new FabricMessage.Aborted(Long.MIN_VALUE),
        new FabricMessage.Heartbeat(),
        new FabricMessage.Inventory(java.util.List.of(), true),
        new FabricMessage.Inventory(
            java.util.List.of(
                new FabricMessage.Owned(
                    new FlowKey(ip("198.18.0.7"), 50000, ip("198.18.0.100"), 80), 5),
                new FabricMessage.Owned(
                    new FlowKey(ip("198.18.0.8"), 1, ip("198.18.0.100"), 443), 6)),
            false),
        new Closed(
            new FlowKey(
                java.net.InetAddress.ofLiteral("2001:2::7"),
                50000,
                java.net.InetAddress.ofLiteral("2001:2::100"),
                80),
            9,
            123,
            456789),
        new FabricMessage.Inventory(
            java.util.List.of(
                new FabricMessage.Owned(
                    new FlowKey(ip("198.18.0.7"), 50000, ip("198.18.0.100"), 80), 5),
                new FabricMessage.Owned(
                    new FlowKey(
                        java.net.InetAddress.ofLiteral("2001:2::8"),
                        1,
                        java.net.InetAddress.ofLiteral("2001:2::100"),
                        443),
                    6)),
            true),
        new LoadReport("server-a", 12, 1000, 988),
        new LoadReport("b", Integer.MAX_VALUE, 0, Long.MAX_VALUE));
  }

  @ParameterizedTest
  @MethodSource("samples")
  void roundTripsEveryMessageType(FabricMessage m) throws FrameFormatException {
    ByteBuf buf = encode(m);
    byte[] bytes = ByteBufUtil.getBytes(buf);
    assertThat((long) bytes.length).isEqualTo(FabricMessageCodec.payloadLength(m));

    FabricMessage decoded = FabricMessageCodec.decode(MessageType.of(m), buf);

    assertThat(decoded).isEqualTo(m).hasSameHashCodeAs(m);
    assertThat(buf.isReadable()).isFalse();
    assertThat(ByteBufUtil.getBytes(encode(decoded))).isEqualTo(bytes);
  }

  @Test
  void encodesTheDocumentedLayout() {
    Closed c = new Closed(new FlowKey(ip("198.18.0.7"), 0x1234, ip("198.18.0.100"), 80), 7, 5, 6);
    assertThat(ByteBufUtil.hexDump(encode(c)))
        .isEqualTo(
            "c6120007"
                + "1234"
                + "c6120064"
                + "0050"
                + "0000000000000007"
                + "0000000000000005"
                + "0000000000000006");
    var inv =
        new FabricMessage.Inventory(
            java.util.List.of(
                new FabricMessage.Owned(
                    new FlowKey(ip("198.18.0.7"), 0x1234, ip("198.18.0.100"), 80), 2)),
            true);
    assertThat(ByteBufUtil.hexDump(encode(inv)))
        .isEqualTo(
            "01" + "00000001" + "c6120007" + "1234" + "c6120064" + "0050" + "0000000000000002");
    Closed c6 =
        new Closed(
            new FlowKey(
                java.net.InetAddress.ofLiteral("2001:2::7"),
                0x1234,
                java.net.InetAddress.ofLiteral("2001:2::100"),
                80),
            7,
            5,
            6);
    // An IPv6 flow: the escape (0.0.0.0, port 0), then 16-byte addresses with their ports.
    assertThat(ByteBufUtil.hexDump(encode(c6)))
        .isEqualTo(
            "00000000"
                + "0000"
                + "20010002000000000000000000000007"
                + "1234"
                + "20010002000000000000000000000100"
                + "0050"
                + "0000000000000007"
                + "0000000000000005"
                + "0000000000000006");
    assertThat(ByteBufUtil.hexDump(encode(new Refused(1, "no"))))
        .isEqualTo("0000000000000001" + "0002" + "6e6f");
  }

  @Test
  void handoffToStringDoesNotDumpTheState() {
    Handoff h = new Handoff(3, new byte[5000], "198.18.0.100:80", "web", "GET /");
    assertThat(h.toString()).contains("5000 bytes").hasSizeLessThan(200);
  }

  static Stream<Arguments> malformedPayloads() {
    return Stream.of(
        bad("empty HELLO", MessageType.HELLO, b -> {}, "truncated at nonce"),
        bad("short nonce", MessageType.HELLO, b -> b.writeZero(10), "truncated at nonce"),
        bad(
            "empty node name",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(0),
            "nodeName is empty"),
        bad(
            "node name over cap",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(256).writeZero(256),
            "nodeName is 256 bytes, limit 255"),
        bad(
            "node name longer than frame",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(200).writeByte('a'),
            "truncated at nodeName"),
        bad(
            "invalid UTF-8",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(2).writeByte(0xC3).writeByte(0x28),
            "not valid UTF-8"),
        bad(
            "UTF-8 surrogate",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(3).writeByte(0xED).writeByte(0xA0).writeByte(0x80),
            "not valid UTF-8"),
        bad(
            "trailing byte",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(1).writeByte('a').writeInt(0).writeByte(0),
            "1 unexpected trailing"),
        bad(
            "HELLO without frame limit",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(1).writeByte('a'),
            "truncated at maxFrameBytes"),
        bad(
            "negative frame limit",
            MessageType.HELLO,
            b -> b.writeZero(16).writeShort(1).writeByte('a').writeInt(-1),
            "maxFrameBytes is negative"),
        bad("short handoff id", MessageType.HANDOFF, b -> b.writeInt(1), "truncated at handoffId"),
        bad(
            "vip over cap",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeShort(65).writeZero(65),
            "vip is 65 bytes, limit 64"),
        bad(
            "summary over cap",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeShort(0).writeShort(0).writeShort(4097),
            "requestSummary is 4097 bytes"),
        bad(
            "state length beyond frame",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeZero(6).writeInt(0x7FFFFFFF).writeZero(10),
            "state length 2147483647 exceeds the 10 bytes left"),
        bad(
            "state length u32 max",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeZero(6).writeInt(-1),
            "state length 4294967295 exceeds"),
        bad(
            "missing state length",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeZero(6),
            "truncated at state length"),
        bad(
            "MIGRATE without application state",
            MessageType.MIGRATE,
            b -> b.writeLong(1).writeZero(6).writeInt(0).writeInt(0),
            "appState is empty"),
        bad(
            "MIGRATE with application state over cap",
            MessageType.MIGRATE,
            b -> b.writeLong(1).writeZero(6).writeInt(0).writeInt(65537).writeZero(65537),
            "appState is 65537 bytes, more than 65536"),
        bad(
            "HANDOFF with trailing application state",
            MessageType.HANDOFF,
            b -> b.writeLong(1).writeZero(6).writeInt(0).writeInt(1).writeByte(7),
            "trailing"),
        bad("empty ACCEPTED", MessageType.ACCEPTED, b -> {}, "truncated at handoffId"),
        bad(
            "long ACCEPTED",
            MessageType.ACCEPTED,
            b -> b.writeLong(1).writeByte(0),
            "1 unexpected trailing"),
        bad(
            "reason over cap",
            MessageType.REFUSED,
            b -> b.writeLong(1).writeShort(2000),
            "reason is 2000 bytes, limit 1024"),
        bad(
            "reason cut short",
            MessageType.REFUSED,
            b -> b.writeLong(1).writeShort(5).writeByte('x'),
            "truncated at reason"),
        bad(
            "client port 0",
            MessageType.CLOSED,
            b -> b.writeInt(1).writeShort(0),
            "clientPort is 0"),
        bad(
            "local port 0",
            MessageType.CLOSED,
            b -> b.writeInt(1).writeShort(1).writeInt(1).writeShort(0),
            "localPort is 0"),
        bad(
            "negative byte count",
            MessageType.CLOSED,
            b -> b.writeInt(1).writeShort(1).writeInt(1).writeShort(1).writeLong(3).writeLong(-1),
            "bytesFromClient is negative"),
        bad(
            "CLOSED without handoff id",
            MessageType.CLOSED,
            b -> b.writeInt(1).writeShort(1).writeInt(1).writeShort(1).writeInt(0),
            "truncated at handoffId"),
        bad("long ABORT", MessageType.ABORT, b -> b.writeLong(1).writeByte(0), "trailing"),
        bad("HEARTBEAT with a body", MessageType.HEARTBEAT, b -> b.writeByte(0), "trailing"),
        bad(
            "INVENTORY last flag 2",
            MessageType.INVENTORY,
            b -> b.writeByte(2).writeInt(0),
            "last is 2"),
        bad(
            "INVENTORY count over cap",
            MessageType.INVENTORY,
            b -> b.writeByte(1).writeInt(8193),
            "count 8193 exceeds 8192"),
        bad(
            "INVENTORY negative count",
            MessageType.INVENTORY,
            b -> b.writeByte(1).writeInt(-1),
            "count is negative"),
        bad(
            "INVENTORY shorter than its count",
            MessageType.INVENTORY,
            b ->
                b.writeByte(1)
                    .writeInt(2)
                    .writeInt(1)
                    .writeShort(1)
                    .writeInt(1)
                    .writeShort(1)
                    .writeLong(1),
            "truncated at clientIp"),
        bad(
            "short CLOSED",
            MessageType.CLOSED,
            b -> b.writeInt(1).writeShort(1).writeByte(1),
            "truncated at localIp"),
        bad(
            "negative active count",
            MessageType.LOAD_REPORT,
            b -> b.writeShort(1).writeByte('a').writeInt(-5),
            "activeConnections is negative"),
        bad(
            "negative accepted total",
            MessageType.LOAD_REPORT,
            b -> b.writeShort(1).writeByte('a').writeInt(0).writeLong(Long.MIN_VALUE),
            "acceptedTotal is negative"),
        bad("empty LOAD_REPORT", MessageType.LOAD_REPORT, b -> {}, "truncated at nodeName length"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedPayloads")
  void refusesMalformedPayloads(
      String name, MessageType type, Consumer<ByteBuf> payload, String expected) {
    ByteBuf buf = Unpooled.buffer();
    payload.accept(buf);
    assertThatThrownBy(() -> FabricMessageCodec.decode(type, buf))
        .isInstanceOf(FrameFormatException.class)
        .hasMessageStartingWith(type + " payload: ")
        .hasMessageContaining(expected);
  }

  @Test
  void unknownTypeCodesAreRefused() {
    for (int code : new int[] {0, 12, 0x42, 255}) {
      assertThatThrownBy(() -> MessageType.ofCode(code))
          .isInstanceOf(FrameFormatException.class)
          .hasMessage("unknown message type " + code);
    }
  }

  /** Flipped bits, truncations and insertions, decoded as every type: only checked refusals. */
  @Test
  void fuzzedPayloadsNeverThrowUnchecked() {
    long seed = 0xBA70_2026L;
    Random random = new Random(seed);
    byte[][] valid = samples().map(m -> ByteBufUtil.getBytes(encode(m))).toArray(byte[][]::new);
    int refused = 0;
    for (int i = 0; i < 20_000; i++) {
      byte[] bytes = mutate(valid[random.nextInt(valid.length)], random);
      MessageType type = MessageType.values()[random.nextInt(MessageType.values().length)];
      try {
        FabricMessageCodec.decode(type, Unpooled.wrappedBuffer(bytes));
      } catch (FrameFormatException e) {
        refused++;
      } catch (RuntimeException e) {
        throw new AssertionError(
            "iteration "
                + i
                + " (seed "
                + seed
                + ") threw on "
                + type
                + " "
                + ByteBufUtil.hexDump(bytes),
            e);
      }
    }
    assertThat(refused).isGreaterThan(10_000);
  }

  @Test
  void recordsRefuseOutOfRangeFields() {
    assertThatThrownBy(() -> new Hello("", nonce(1))).hasMessageContaining("nodeName");
    assertThatThrownBy(() -> new Hello("x", new byte[15])).hasMessageContaining("16 bytes");
    assertThatThrownBy(() -> new Handoff(1, new byte[0], "x".repeat(65), "", ""))
        .hasMessageContaining("vip is longer than 64");
    assertThatThrownBy(() -> new Refused(1, "é".repeat(513))).hasMessageContaining("reason");
    assertThatThrownBy(() -> new LoadReport("n", -1, 0, 0)).hasMessageContaining("activeConn");
  }

  @Test
  void fitUtf8CutsOnCharacterBoundaries() {
    assertThat(FabricMessageCodec.fitUtf8("abc", 3)).isEqualTo("abc");
    assertThat(FabricMessageCodec.fitUtf8("abcd", 3)).isEqualTo("abc");
    assertThat(FabricMessageCodec.fitUtf8("aé", 2)).isEqualTo("a");
    assertThat(FabricMessageCodec.fitUtf8("a😀", 4)).isEqualTo("a");
    assertThat(FabricMessageCodec.fitUtf8("é".repeat(2000), 1024)).hasSize(512);
  }

  static byte[] mutate(byte[] valid, Random random) {
    byte[] b = valid.clone();
    switch (random.nextInt(3)) {
      case 0 -> {
        for (int k = 1 + random.nextInt(3); k > 0 && b.length > 0; k--) {
          b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
        }
      }
      case 1 -> b = Arrays.copyOf(b, random.nextInt(b.length + 1));
      default -> {
        byte[] longer = Arrays.copyOf(b, b.length + 1 + random.nextInt(8));
        for (int k = b.length; k < longer.length; k++) longer[k] = (byte) random.nextInt();
        b = longer;
      }
    }
    return b;
  }

  private static Arguments bad(
      String name, MessageType type, Consumer<ByteBuf> payload, String expected) {
    return Arguments.of(name, type, payload, expected);
  }

  static ByteBuf encode(FabricMessage m) {
    ByteBuf buf = Unpooled.buffer();
    FabricMessageCodec.encode(m, buf);
    return buf;
  }

  static byte[] nonce(int seed) {
    byte[] n = new byte[FabricMessage.NONCE_BYTES];
    new Random(seed).nextBytes(n);
    return n;
  }

  static Inet4Address ip(String dotted) {
    try {
      return (Inet4Address) InetAddress.getByName(dotted);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
