package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.transplant.ConnectionState.TcpOptions;
import io.baton.transplant.ConnectionState.Window;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Unit tests for {@link ConnectionStateCodec}. The field offsets below are written out from the
 * format description rather than taken from the codec, so a layout change breaks these tests.
 */
class ConnectionStateCodecTest {
  private static final int VERSION_AT = 4;
  private static final int FLAGS_AT = 5;
  private static final int RESERVED_AT = 6;
  private static final int CLIENT_PORT_AT = 12;
  private static final int LOCAL_PORT_AT = 18;
  private static final int MSS_AT = 56;
  private static final int SND_WSCALE_AT = 58;
  private static final int RCV_WSCALE_AT = 59;
  private static final int RECEIVE_LENGTH_AT = 64;
  private static final int RECEIVE_READ_AT = 68;
  private static final int SEND_LENGTH_AT = 72;
  private static final int SEND_UNSENT_AT = 76;

  // ---------------------------------------------------------------- round trips

  @Test
  void headerIsEightyBytes() {
    assertThat(ConnectionStateCodec.HEADER_BYTES).isEqualTo(80);
    assertThat(ConnectionStateCodec.VERSION).isEqualTo(2);
  }

  @Test
  void encodesTheDocumentedLayout() {
    ConnectionState s =
        new ConnectionState(
            new FlowKey(ip("192.0.2.10"), 0xC350, ip("198.51.100.1"), 443),
            0x01020304,
            0xFFFFFFFE,
            0x80000000,
            0x7FFFFFFF,
            new Window(0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555),
            1460,
            new TcpOptions(true, false, true, 7, 14),
            0xCAFEBABE,
            new byte[] {1, 2, 3},
            1,
            new byte[] {9, 8},
            2);

    String expected =
        "42544353"
            + "02"
            + "05"
            + "0000"
            + "c000020a"
            + "c350"
            + "c6336401"
            + "01bb"
            + "01020304"
            + "fffffffe"
            + "80000000"
            + "7fffffff"
            + "11111111"
            + "22222222"
            + "33333333"
            + "44444444"
            + "55555555"
            + "05b4"
            + "07"
            + "0e"
            + "cafebabe"
            + "00000003"
            + "00000001"
            + "00000002"
            + "00000002"
            + "010203"
            + "0908";
    assertThat(HexFormat.of().formatHex(ConnectionStateCodec.encode(s))).isEqualTo(expected);
    assertThat(ConnectionStateCodec.encodedLength(s)).isEqualTo(85);
  }

  @Test
  void encodesAnIpv6StateAsVersionThreeWithSixteenByteAddresses() throws StateFormatException {
    ConnectionState s =
        new ConnectionState(
            new FlowKey(ip6("2001:2::10"), 0xC350, ip6("2001:2::100"), 443),
            0x01020304,
            0xFFFFFFFE,
            0x80000000,
            0x7FFFFFFF,
            new Window(0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555),
            1440,
            new TcpOptions(true, false, true, 7, 14),
            0xCAFEBABE,
            new byte[] {1, 2, 3},
            1,
            new byte[] {9, 8},
            2,
            true);
    String expected =
        "42544353"
            + "03"
            + "0d"
            + "06"
            + "00"
            + "20010002000000000000000000000010"
            + "c350"
            + "20010002000000000000000000000100"
            + "01bb"
            + "01020304fffffffe800000007fffffff"
            + "1111111122222222333333334444444455555555"
            + "05a0"
            + "07"
            + "0e"
            + "cafebabe"
            + "00000003"
            + "00000001"
            + "00000002"
            + "00000002"
            + "010203"
            + "0908";
    byte[] bytes = ConnectionStateCodec.encode(s);
    assertThat(HexFormat.of().formatHex(bytes)).isEqualTo(expected);
    assertThat(ConnectionStateCodec.encodedLength(s))
        .isEqualTo(ConnectionStateCodec.HEADER_BYTES_IPV6 + 5);
    ConnectionState decoded = ConnectionStateCodec.decode(bytes);
    assertSameFields(decoded, s);
    assertThat(ConnectionStateCodec.encode(decoded)).isEqualTo(bytes);
  }

  @Test
  void roundTripsRandomIpv6States() throws StateFormatException {
    Random random = new Random(0xBA70_0006L);
    for (int i = 0; i < 2000; i++) {
      ConnectionState v4 = randomState(random, 4 * 1024);
      ConnectionState s = withFlow(v4, randomFlow6(random));
      byte[] bytes = ConnectionStateCodec.encode(s);
      assertThat(bytes[VERSION_AT]).isEqualTo((byte) 3);
      ConnectionState decoded = ConnectionStateCodec.decode(bytes);
      assertSameFields(decoded, s);
      assertThat(ConnectionStateCodec.encode(decoded)).isEqualTo(bytes);
    }
  }

  @Test
  void rejectsMalformedIpv6States() {
    byte[] good =
        ConnectionStateCodec.encode(
            withFlow(
                referenceState(), new FlowKey(ip6("2001:2::10"), 40000, ip6("2001:2::100"), 80)));
    byte[] family = good.clone();
    family[6] = 4;
    assertThat(expectRejected(family, "family 4"))
        .isEqualTo(
            "connection state version 3 address family is 4, must be 6 (IPv4 states are version 2)");
    byte[] reserved = good.clone();
    reserved[7] = 1;
    assertThat(expectRejected(reserved, "reserved")).contains("reserved field is 1, must be 0");
    byte[] mapped = good.clone();
    // ::ffff:198.18.0.10 as the client address
    java.util.Arrays.fill(mapped, 8, 24, (byte) 0);
    mapped[18] = (byte) 0xff;
    mapped[19] = (byte) 0xff;
    mapped[20] = (byte) 198;
    mapped[21] = 18;
    mapped[23] = 10;
    assertThat(expectRejected(mapped, "v4-mapped"))
        .contains("client address")
        .contains("v4-mapped");
    byte[] portZero = good.clone();
    portZero[42] = 0;
    portZero[43] = 0;
    assertThat(expectRejected(portZero, "port 0")).contains("local port");
    byte[] v2 = ConnectionStateCodec.encode(referenceState());
    byte[] v2AsV3 = java.util.Arrays.copyOf(v2, v2.length + 24); // long enough for a v3 header
    v2AsV3[VERSION_AT] = 3;
    assertThat(expectRejected(v2AsV3, "v2 bytes labelled v3")).contains("address family is 0");
    for (int length = 0; length < good.length; length++) {
      expectRejected(java.util.Arrays.copyOf(good, length), "truncated to " + length);
    }
    byte[] longer = java.util.Arrays.copyOf(good, good.length + 1);
    assertThat(expectRejected(longer, "trailing")).contains("1 trailing bytes");
  }

  @Test
  void ipv4StatesKeepVersionTwoByteForByte() {
    byte[] bytes = ConnectionStateCodec.encode(referenceState());
    assertThat(bytes[VERSION_AT]).isEqualTo((byte) 2);
    assertThat(bytes[6]).isZero();
    assertThat(bytes[7]).isZero();
    assertThat(
            bytes.length
                - referenceState().receiveQueue().length
                - referenceState().sendQueue().length)
        .isEqualTo(ConnectionStateCodec.HEADER_BYTES);
  }

  private static FlowKey randomFlow6(Random random) {
    byte[] a = new byte[16];
    byte[] b = new byte[16];
    random.nextBytes(a);
    random.nextBytes(b);
    a[0] = 0x20;
    b[0] = 0x20;
    try {
      return new FlowKey(
          InetAddress.getByAddress(a),
          1 + random.nextInt(65535),
          InetAddress.getByAddress(b),
          1 + random.nextInt(65535));
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static ConnectionState withFlow(ConnectionState s, FlowKey flow) {
    return new ConnectionState(
        flow,
        s.sendInitialSeq(),
        s.sendNextSeq(),
        s.receiveInitialSeq(),
        s.receiveNextSeq(),
        s.window(),
        s.mss(),
        s.options(),
        s.timestampValue(),
        s.receiveQueue(),
        s.receiveQueueAlreadyRead(),
        s.sendQueue(),
        s.sendQueueUnsent(),
        s.finReceived());
  }

  private static InetAddress ip6(String literal) {
    return InetAddress.ofLiteral(literal);
  }

  @Test
  void encodesTheFinReceivedFlagAsBitThree() throws StateFormatException {
    ConnectionState established = referenceState();
    ConnectionState closeWait = withFin(established);
    byte[] plain = ConnectionStateCodec.encode(established);
    byte[] fin = ConnectionStateCodec.encode(closeWait);

    assertThat(plain[FLAGS_AT]).isEqualTo((byte) 0x07);
    assertThat(fin[FLAGS_AT]).isEqualTo((byte) 0x0F);
    // Only the flag differs: rcv_nxt is carried as the kernel reports it, FIN included.
    fin[FLAGS_AT] = plain[FLAGS_AT];
    assertThat(fin).isEqualTo(plain);
    ConnectionState decoded = ConnectionStateCodec.decode(ConnectionStateCodec.encode(closeWait));
    assertThat(decoded.finReceived()).isTrue();
    assertThat(decoded).isEqualTo(closeWait).isNotEqualTo(established);
  }

  @Test
  void aReceivedFinTakesOneSequenceNumberBeforeTheQueue() {
    ConnectionState established = referenceState(); // rcv_nxt 5104, 4 queued bytes
    ConnectionState closeWait = withFin(established);
    assertThat(established.receiveDataEndSeq()).isEqualTo(5104);
    assertThat(established.receiveQueueStartSeq()).isEqualTo(5100);
    assertThat(closeWait.receiveDataEndSeq()).isEqualTo(5103);
    assertThat(closeWait.receiveQueueStartSeq()).isEqualTo(5099);
    assertThat(closeWait.toString()).contains(" fin]");
  }

  @Test
  void roundTripsRandomStates() throws StateFormatException {
    Random random = new Random(0xBA70_0001L);
    for (int i = 0; i < 2000; i++) {
      ConnectionState s = randomState(random, 64 * 1024);
      byte[] bytes = ConnectionStateCodec.encode(s);
      assertThat(bytes).hasSize(ConnectionStateCodec.encodedLength(s));
      ConnectionState decoded = ConnectionStateCodec.decode(bytes);
      assertThat(decoded).as("iteration %d", i).isEqualTo(s);
      assertSameFields(decoded, s);
    }
  }

  static Stream<ConnectionState> edgeStates() {
    FlowKey lowPorts = new FlowKey(ip("0.0.0.0"), 1, ip("255.255.255.255"), 1);
    FlowKey highPorts = new FlowKey(ip("10.0.0.1"), 65535, ip("10.0.0.2"), 65535);
    Window zeros = new Window(0, 0, 0, 0, 0);
    Window ones = new Window(-1, -1, -1, -1, -1);
    byte[] none = new byte[0];
    return Stream.of(
        new ConnectionState(
            lowPorts,
            0,
            0,
            0,
            0,
            zeros,
            1,
            new TcpOptions(false, false, false, 0, 0),
            0,
            none,
            0,
            none,
            0),
        new ConnectionState(
            highPorts,
            -1,
            -1,
            -1,
            -1,
            ones,
            65535,
            new TcpOptions(true, true, true, 14, 14),
            -1,
            new byte[] {-1},
            1,
            new byte[] {0},
            1),
        new ConnectionState(
            highPorts,
            Integer.MIN_VALUE,
            Integer.MAX_VALUE,
            Integer.MIN_VALUE,
            Integer.MAX_VALUE,
            zeros,
            536,
            new TcpOptions(false, true, true, 0, 0),
            0,
            none,
            0,
            new byte[300],
            0),
        new ConnectionState(
            lowPorts,
            0,
            5,
            0,
            5,
            ones,
            1400,
            new TcpOptions(true, false, false, 0, 0),
            12345,
            new byte[5],
            5,
            new byte[5],
            5),
        new ConnectionState(
            highPorts,
            7,
            7,
            -1,
            0,
            ones,
            1448,
            new TcpOptions(true, true, true, 7, 7),
            1,
            none,
            0,
            none,
            0,
            true),
        new ConnectionState(
            lowPorts,
            0,
            1,
            0,
            6,
            zeros,
            1448,
            new TcpOptions(false, false, false, 0, 0),
            0,
            new byte[5],
            2,
            new byte[1],
            0,
            true));
  }

  @ParameterizedTest
  @MethodSource("edgeStates")
  void roundTripsEdgeValues(ConnectionState s) throws StateFormatException {
    ConnectionState decoded = ConnectionStateCodec.decode(ConnectionStateCodec.encode(s));
    assertThat(decoded).isEqualTo(s);
    assertSameFields(decoded, s);
  }

  @Test
  void roundTripsThroughByteBuffersAtNonZeroPositions() throws StateFormatException {
    Random random = new Random(0xBA70_0002L);
    for (int i = 0; i < 200; i++) {
      ConnectionState s = randomState(random, 2048);
      int length = ConnectionStateCodec.encodedLength(s);
      int offset = 1 + random.nextInt(64);
      ByteBuffer buffer =
          i % 2 == 0
              ? ByteBuffer.allocate(offset + length + 16)
              : ByteBuffer.allocateDirect(offset + length + 16);
      // The caller's byte order must neither matter nor be changed.
      buffer.order(i % 4 < 2 ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
      ByteOrder order = buffer.order();
      for (int j = 0; j < buffer.capacity(); j++) {
        buffer.put(j, (byte) 0x5A);
      }
      buffer.position(offset);

      ConnectionStateCodec.encode(s, buffer);

      assertThat(buffer.position()).isEqualTo(offset + length);
      assertThat(buffer.order()).isEqualTo(order);
      for (int j = 0; j < offset; j++) {
        assertThat(buffer.get(j)).as("byte %d before the state", j).isEqualTo((byte) 0x5A);
      }
      assertThat(buffer.get(offset + length)).isEqualTo((byte) 0x5A);
      byte[] written = new byte[length];
      buffer.get(offset, written);
      assertThat(written).isEqualTo(ConnectionStateCodec.encode(s));

      buffer.limit(offset + length).position(offset);
      ConnectionState decoded = ConnectionStateCodec.decode(buffer);
      assertThat(decoded).isEqualTo(s);
      assertThat(buffer.position()).isEqualTo(buffer.limit());
      assertThat(buffer.order()).isEqualTo(order);
    }
  }

  @Test
  void decodesFromReadOnlyBuffers() throws StateFormatException {
    ConnectionState s = randomState(new Random(3), 100);
    ByteBuffer readOnly = ByteBuffer.wrap(ConnectionStateCodec.encode(s)).asReadOnlyBuffer();
    assertThat(ConnectionStateCodec.decode(readOnly)).isEqualTo(s);
  }

  @Test
  void encodeRefusesABufferThatIsTooSmallAndWritesNothing() {
    ConnectionState s = randomState(new Random(4), 100);
    int length = ConnectionStateCodec.encodedLength(s);
    ByteBuffer buffer = ByteBuffer.allocate(length + 2);
    buffer.position(3);

    assertThatThrownBy(() -> ConnectionStateCodec.encode(s, buffer))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(length))
        .hasMessageContaining("remaining");
    assertThat(buffer.position()).isEqualTo(3);
    assertThat(buffer.array()).containsOnly(0);
  }

  @Test
  void encodeRefusesAReadOnlyBuffer() {
    ConnectionState s = randomState(new Random(5), 10);
    ByteBuffer readOnly = ByteBuffer.allocate(1 << 20).asReadOnlyBuffer();
    assertThatThrownBy(() -> ConnectionStateCodec.encode(s, readOnly))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("read-only");
  }

  @Test
  void failedBufferDecodeLeavesThePositionAlone() {
    byte[] bytes = ConnectionStateCodec.encode(randomState(new Random(6), 10));
    bytes[CLIENT_PORT_AT] = 0;
    bytes[CLIENT_PORT_AT + 1] = 0;
    ByteBuffer buffer = ByteBuffer.allocate(bytes.length + 5);
    buffer.position(5);
    buffer.put(bytes).position(5);

    assertThatThrownBy(() -> ConnectionStateCodec.decode(buffer))
        .isInstanceOf(StateFormatException.class);
    assertThat(buffer.position()).isEqualTo(5);
    assertThat(buffer.limit()).isEqualTo(bytes.length + 5);
  }

  @Test
  void bufferDecodeInsistsOnTheWholeRemainder() {
    byte[] bytes = ConnectionStateCodec.encode(randomState(new Random(7), 10));
    ByteBuffer buffer = ByteBuffer.allocate(bytes.length + 1).put(bytes).flip();
    buffer.limit(bytes.length + 1);

    assertThatThrownBy(() -> ConnectionStateCodec.decode(buffer))
        .isInstanceOf(StateFormatException.class)
        .hasMessageContaining("1 trailing bytes");
  }

  // ---------------------------------------------------------------- truncation and fuzzing

  @Test
  void rejectsEveryTruncation() {
    Random random = new Random(0xBA70_0003L);
    List<byte[]> encodings = new ArrayList<>();
    encodings.add(ConnectionStateCodec.encode(edgeStates().toList().get(1)));
    for (int i = 0; i < 10; i++) {
      encodings.add(ConnectionStateCodec.encode(randomState(random, 200)));
    }
    for (byte[] full : encodings) {
      for (int length = 0; length < full.length; length++) {
        byte[] prefix = Arrays.copyOf(full, length);
        String message = expectRejected(prefix, "prefix of " + length + "/" + full.length);
        assertThat(message).as("prefix of %d bytes", length).contains("truncated");
        if (length < ConnectionStateCodec.HEADER_BYTES) {
          assertThat(message)
              .isEqualTo("connection state truncated: header needs 80 bytes, got " + length);
        }
      }
    }
  }

  @Test
  void survivesRandomCorruption() {
    Random random = new Random(0xBA70_0004L);
    List<byte[]> pool = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      pool.add(ConnectionStateCodec.encode(randomState(random, 48)));
    }
    int accepted = 0;
    for (int i = 0; i < 20_000; i++) {
      byte[] bytes = pool.get(random.nextInt(pool.size())).clone();
      int flips = 1 + random.nextInt(4);
      for (int f = 0; f < flips; f++) {
        // Bias towards the header, where the interesting checks are.
        int at =
            random.nextInt(4) == 0
                ? random.nextInt(bytes.length)
                : random.nextInt(ConnectionStateCodec.HEADER_BYTES);
        bytes[at] ^= (byte) (1 + random.nextInt(255));
      }
      ConnectionState decoded;
      try {
        decoded = ConnectionStateCodec.decode(bytes);
      } catch (StateFormatException e) {
        assertThat(e.getMessage()).isNotBlank();
        continue;
      } catch (Throwable t) {
        throw new AssertionError(
            "decode threw " + t + " for " + HexFormat.of().formatHex(bytes), t);
      }
      // Whatever is accepted is a valid state with exactly one encoding.
      assertThat(ConnectionStateCodec.encode(decoded)).isEqualTo(bytes);
      accepted++;
    }
    // Flipping sequence numbers, windows, addresses or queue bytes yields valid states: the
    // fuzz must have exercised both outcomes.
    assertThat(accepted).isBetween(1, 19_999);
  }

  // ---------------------------------------------------------------- specific rejections

  static Stream<Arguments> malformed() {
    return Stream.of(
        rejection(
            "bad magic", b -> b[0] = 'X', "not a Baton connection state: magic is 0x58544353"),
        rejection(
            "unknown version",
            b -> b[VERSION_AT] = 7,
            "unsupported connection state version 7 (this build reads 2 and 3)"),
        rejection(
            "version 1 (before the FIN flag)",
            b -> b[VERSION_AT] = 1,
            "unsupported connection state version 1 (this build reads 2 and 3)"),
        rejection("version 0", b -> b[VERSION_AT] = 0, "unsupported connection state version 0"),
        rejection(
            "version 255",
            b -> b[VERSION_AT] = (byte) 255,
            "unsupported connection state version 255"),
        rejection("flag bit 4", b -> b[FLAGS_AT] |= 0x10, "unknown bits 0x10"),
        rejection("flag bits 4 and 3", b -> b[FLAGS_AT] |= 0x18, "unknown bits 0x10"),
        rejection("flag bit 7", b -> b[FLAGS_AT] |= (byte) 0x80, "unknown bits 0x80"),
        rejection(
            "reserved high byte", b -> b[RESERVED_AT] = 1, "reserved field is 256, must be 0"),
        rejection(
            "reserved low byte", b -> b[RESERVED_AT + 1] = 1, "reserved field is 1, must be 0"),
        rejection(
            "client port 0", b -> putShort(b, CLIENT_PORT_AT, 0), "client port 0 out of range"),
        rejection("local port 0", b -> putShort(b, LOCAL_PORT_AT, 0), "local port 0 out of range"),
        rejection("mss 0", b -> putShort(b, MSS_AT, 0), "mss 0 out of range"),
        rejection(
            "send wscale 15",
            b -> b[SND_WSCALE_AT] = 15,
            "send window scale 15 out of range 0..14"),
        rejection(
            "receive wscale 15",
            b -> b[RCV_WSCALE_AT] = 15,
            "receive window scale 15 out of range 0..14"),
        rejection(
            "receive wscale 255",
            b -> b[RCV_WSCALE_AT] = (byte) 255,
            "receive window scale 255 out of range"),
        rejection(
            "send wscale without scaling",
            b -> {
              b[FLAGS_AT] &= ~0x04;
              b[SND_WSCALE_AT] = 3;
              b[RCV_WSCALE_AT] = 0;
            },
            "send window scale is 3 but the window-scaling flag is off"),
        rejection(
            "receive wscale without scaling",
            b -> {
              b[FLAGS_AT] &= ~0x04;
              b[SND_WSCALE_AT] = 0;
              b[RCV_WSCALE_AT] = 1;
            },
            "receive window scale is 1 but the window-scaling flag is off"),
        rejection(
            "receive queue over the limit",
            b -> putInt(b, RECEIVE_LENGTH_AT, 70_000_000),
            "receive queue length 70000000 exceeds the 67108864-byte limit"),
        rejection(
            "receive queue length 2^32-1",
            b -> putInt(b, RECEIVE_LENGTH_AT, -1),
            "receive queue length 4294967295 exceeds the 67108864-byte limit"),
        rejection(
            "send queue over the limit",
            b -> putInt(b, SEND_LENGTH_AT, (64 << 20) + 1),
            "send queue length 67108865 exceeds the 67108864-byte limit"),
        rejection(
            "receive queue at the limit but absent",
            b -> putInt(b, RECEIVE_LENGTH_AT, 64 << 20),
            "connection state truncated"),
        rejection(
            "send queue at the limit but absent",
            b -> putInt(b, SEND_LENGTH_AT, 64 << 20),
            "connection state truncated"),
        rejection(
            "already read beyond the receive queue",
            b -> putInt(b, RECEIVE_READ_AT, 5),
            "receive queue already-read count 5 exceeds the queue's length 4"),
        rejection(
            "already read 2^32-1",
            b -> putInt(b, RECEIVE_READ_AT, -1),
            "receive queue already-read count 4294967295"),
        rejection(
            "unsent beyond the send queue",
            b -> putInt(b, SEND_UNSENT_AT, 7),
            "send queue unsent count 7 exceeds the queue's length 6"),
        rejection(
            "receive queue shorter than declared",
            b -> putInt(b, RECEIVE_LENGTH_AT, 3),
            "1 trailing bytes"),
        rejection(
            "send queue longer than present",
            b -> putInt(b, SEND_LENGTH_AT, 7),
            "header declares 91 bytes (80 header + 4 receive queue + 7 send queue), got 90"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void rejectsMalformedInput(String name, Consumer<byte[]> corruption, String expectedMessage) {
    byte[] bytes = ConnectionStateCodec.encode(referenceState());
    corruption.accept(bytes);
    assertThat(expectRejected(bytes, name)).contains(expectedMessage);
  }

  @Test
  void rejectsTrailingBytes() {
    byte[] valid = ConnectionStateCodec.encode(referenceState());
    for (int extra = 1; extra <= 3; extra++) {
      byte[] longer = Arrays.copyOf(valid, valid.length + extra);
      assertThat(expectRejected(longer, extra + " trailing"))
          .isEqualTo("connection state has " + extra + " trailing bytes after the 90 it declares");
    }
  }

  @Test
  void rejectsMagicAndVersionBeforeComplainingAboutLength() {
    assertThat(
            expectRejected(
                "HTTP/1.1 200".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "http"))
        .startsWith("not a Baton connection state: magic is 0x48545450");
    assertThat(expectRejected(new byte[] {'B', 'T', 'C', 'S', 4}, "v4"))
        .isEqualTo(
            "unsupported connection state version 4 (this build reads 2 and 3); upgrade this "
                + "node to match the exporting node");
    assertThat(expectRejected(new byte[] {'B', 'T', 'C', 'S', 3}, "v3 header only"))
        .isEqualTo("connection state truncated: header needs 104 bytes, got 5");
    assertThat(expectRejected(new byte[] {'B', 'T', 'C', 'S', 1}, "v1"))
        .isEqualTo("unsupported connection state version 1 (this build reads 2 and 3)");
    assertThat(expectRejected(new byte[12], "zeros")).contains("magic is 0x00000000");
    assertThat(expectRejected(new byte[] {'B', 'T', 'C', 'S', 2}, "v2 header only"))
        .isEqualTo("connection state truncated: header needs 80 bytes, got 5");
  }

  @Test
  void forgedQueueLengthsAreRejectedWithoutAllocatingThem() {
    com.sun.management.ThreadMXBean threads = threadMxBean();
    long thread = Thread.currentThread().threadId();
    byte[] forged = ConnectionStateCodec.encode(referenceState());
    putInt(forged, RECEIVE_LENGTH_AT, 64 << 20);
    putInt(forged, SEND_LENGTH_AT, 64 << 20);
    expectRejected(forged, "warm-up");

    long before = threads.getThreadAllocatedBytes(thread);
    for (int i = 0; i < 10; i++) {
      expectRejected(forged, "forged");
    }
    long allocated = threads.getThreadAllocatedBytes(thread) - before;

    assertThat(allocated).as("bytes allocated by 10 rejected decodes").isLessThan(1 << 20);
  }

  // ---------------------------------------------------------------- helpers

  /** A small state with every option on and queues of 4 and 6 bytes: encodes to 90 bytes. */
  private static ConnectionState referenceState() {
    return new ConnectionState(
        new FlowKey(ip("203.0.113.7"), 51000, ip("198.51.100.1"), 80),
        100,
        206,
        5000,
        5104,
        new Window(5000, 65535, 65535, 64240, 5104),
        1448,
        new TcpOptions(true, true, true, 7, 7),
        987654,
        new byte[] {'G', 'E', 'T', ' '},
        2,
        new byte[] {'H', 'T', 'T', 'P', '/', '1'},
        3);
  }

  private static ConnectionState withFin(ConnectionState s) {
    return new ConnectionState(
        s.flow(),
        s.sendInitialSeq(),
        s.sendNextSeq(),
        s.receiveInitialSeq(),
        s.receiveNextSeq(),
        s.window(),
        s.mss(),
        s.options(),
        s.timestampValue(),
        s.receiveQueue(),
        s.receiveQueueAlreadyRead(),
        s.sendQueue(),
        s.sendQueueUnsent(),
        true);
  }

  private static ConnectionState randomState(Random random, int maxQueueBytes) {
    boolean scaling = random.nextBoolean();
    TcpOptions options =
        new TcpOptions(
            random.nextBoolean(),
            random.nextBoolean(),
            scaling,
            scaling ? random.nextInt(15) : 0,
            scaling ? random.nextInt(15) : 0);
    byte[] receiveQueue = randomBytes(random, maxQueueBytes);
    byte[] sendQueue = randomBytes(random, maxQueueBytes);
    return new ConnectionState(
        new FlowKey(
            randomIp(random),
            1 + random.nextInt(65535),
            randomIp(random),
            1 + random.nextInt(65535)),
        random.nextInt(),
        random.nextInt(),
        random.nextInt(),
        random.nextInt(),
        new Window(
            random.nextInt(),
            random.nextInt(),
            random.nextInt(),
            random.nextInt(),
            random.nextInt()),
        1 + random.nextInt(65535),
        options,
        random.nextInt(),
        receiveQueue,
        random.nextInt(receiveQueue.length + 1),
        sendQueue,
        random.nextInt(sendQueue.length + 1),
        random.nextBoolean());
  }

  /** Sizes 0..max, with empty and tiny queues more likely than uniform draws would make them. */
  private static byte[] randomBytes(Random random, int max) {
    int length =
        switch (random.nextInt(4)) {
          case 0 -> 0;
          case 1 -> random.nextInt(Math.min(max, 16) + 1);
          default -> random.nextInt(max + 1);
        };
    byte[] bytes = new byte[length];
    random.nextBytes(bytes);
    return bytes;
  }

  private static Inet4Address randomIp(Random random) {
    byte[] address = new byte[4];
    random.nextBytes(address);
    try {
      return (Inet4Address) InetAddress.getByAddress(address);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static Inet4Address ip(String literal) {
    try {
      return (Inet4Address) InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** Decodes {@code bytes}, requires a StateFormatException and returns its message. */
  private static String expectRejected(byte[] bytes, String what) {
    try {
      ConnectionState s = ConnectionStateCodec.decode(bytes);
      throw new AssertionError(what + ": expected a rejection, decoded " + s);
    } catch (StateFormatException e) {
      return e.getMessage();
    } catch (RuntimeException | Error e) {
      throw new AssertionError(
          what + ": decode threw " + e + " instead of StateFormatException", e);
    }
  }

  private static Arguments rejection(String name, Consumer<byte[]> corruption, String message) {
    return Arguments.of(name, corruption, message);
  }

  private static void putShort(byte[] bytes, int at, int value) {
    ByteBuffer.wrap(bytes).putShort(at, (short) value);
  }

  private static void putInt(byte[] bytes, int at, int value) {
    ByteBuffer.wrap(bytes).putInt(at, value);
  }

  private static void assertSameFields(ConnectionState actual, ConnectionState expected) {
    // equals() already covers these; spelled out so a broken equals() cannot hide a codec bug.
    assertThat(actual.flow()).isEqualTo(expected.flow());
    assertThat(actual.window()).isEqualTo(expected.window());
    assertThat(actual.options()).isEqualTo(expected.options());
    assertThat(actual.sendInitialSeq()).isEqualTo(expected.sendInitialSeq());
    assertThat(actual.receiveInitialSeq()).isEqualTo(expected.receiveInitialSeq());
    assertThat(actual.timestampValue()).isEqualTo(expected.timestampValue());
    assertThat(actual.mss()).isEqualTo(expected.mss());
    assertThat(actual.receiveQueue()).isEqualTo(expected.receiveQueue());
    assertThat(actual.sendQueue()).isEqualTo(expected.sendQueue());
    assertThat(actual.receiveQueueAlreadyRead()).isEqualTo(expected.receiveQueueAlreadyRead());
    assertThat(actual.sendQueueUnsent()).isEqualTo(expected.sendQueueUnsent());
    assertThat(actual.finReceived()).isEqualTo(expected.finReceived());
  }

  private static com.sun.management.ThreadMXBean threadMxBean() {
    if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean bean
        && bean.isThreadAllocatedMemorySupported()) {
      bean.setThreadAllocatedMemoryEnabled(true);
      return bean;
    }
    return Assumptions.abort("per-thread allocation counters are not available on this JVM");
  }
}
