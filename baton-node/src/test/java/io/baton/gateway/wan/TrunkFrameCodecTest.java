package io.baton.gateway.wan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every frame type round-trips; broken frames are refused, never guessed at. */
class TrunkFrameCodecTest {
  private static final WanParameters PARAMS =
      new WanParameters(4, "bbr", 1 << 20, 0, 0, 12_500_000, 18);

  private static List<Object> roundTrip(TrunkFrame... frames) {
    EmbeddedChannel out = new EmbeddedChannel(new TrunkFrameCodec());
    for (TrunkFrame f : frames) out.writeOutbound(f);
    ByteBuf wire = Unpooled.buffer();
    for (Object b; (b = out.readOutbound()) != null; ) {
      wire.writeBytes((ByteBuf) b);
      ((ByteBuf) b).release();
    }
    EmbeddedChannel in = new EmbeddedChannel(new TrunkFrameCodec());
    // One byte at a time: the decoder must wait for whole frames.
    while (wire.isReadable()) in.writeInbound(wire.readRetainedSlice(1));
    wire.release();
    List<Object> got = new java.util.ArrayList<>();
    for (Object m; (m = in.readInbound()) != null; ) got.add(m);
    return got;
  }

  @Test
  void everyFrameRoundTrips() {
    TrunkHello hello = new TrunkHello(new byte[32]);
    byte[] id = new byte[16];
    id[3] = 7;
    TrunkFrame.Hello h = hello.seal(id, 2, PARAMS, 1_000);
    List<Object> got =
        roundTrip(
            h,
            new TrunkFrame.Open(
                5,
                0,
                new InetSocketAddress("198.18.7.10", 80),
                new InetSocketAddress("198.18.4.10", 40000)),
            new TrunkFrame.Data(5, 1, Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII)),
            new TrunkFrame.Fin(5, 2),
            new TrunkFrame.Reset(6, "connect refused"),
            new TrunkFrame.Credit(5, 123_456_789_012L),
            new TrunkFrame.Ping(42));
    assertThat(got).hasSize(7);
    TrunkFrame.Hello h2 = (TrunkFrame.Hello) got.get(0);
    assertThat(h2.params()).isEqualTo(PARAMS);
    assertThat(h2.index()).isEqualTo(2);
    assertThat(hello.problem(h2, 1_000)).isNull();
    assertThat(got.get(1))
        .isEqualTo(
            new TrunkFrame.Open(
                5,
                0,
                new InetSocketAddress("198.18.7.10", 80),
                new InetSocketAddress("198.18.4.10", 40000)));
    TrunkFrame.Data d = (TrunkFrame.Data) got.get(2);
    assertThat(d.payload().toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
    d.payload().release();
    assertThat(got.subList(3, 7))
        .containsExactly(
            new TrunkFrame.Fin(5, 2),
            new TrunkFrame.Reset(6, "connect refused"),
            new TrunkFrame.Credit(5, 123_456_789_012L),
            new TrunkFrame.Ping(42));
  }

  @Test
  void brokenFramesAreRefused() {
    assertThatThrownBy(() -> decode(header(9, 0)))
        .isInstanceOf(CorruptedFrameException.class)
        .hasMessageContaining("unknown trunk frame type 9");
    assertThatThrownBy(() -> decode(header(TrunkFrameCodec.DATA, TrunkFrame.MAX_BODY_BYTES + 1)))
        .hasMessageContaining("at most " + TrunkFrame.MAX_BODY_BYTES);
    assertThatThrownBy(() -> decode(header(TrunkFrameCodec.DATA, -1)))
        .hasMessageContaining("4294967295 bytes");
    assertThatThrownBy(() -> decode(withBody(TrunkFrameCodec.FIN, new byte[3])))
        .hasMessageContaining("FIN frame");
    assertThatThrownBy(() -> decode(withBody(TrunkFrameCodec.CREDIT, new byte[7])))
        .hasMessageContaining("CREDIT frame");
    assertThatThrownBy(
            () -> decode(withBody(TrunkFrameCodec.OPEN, new byte[] {5, 0, 1, 2, 3, 4, 0, 80})))
        .hasMessageContaining("address family 5");
    assertThatThrownBy(() -> decode(withBody(TrunkFrameCodec.HELLO, new byte[10])))
        .hasMessageContaining("HELLO");
  }

  @Test
  void aTamperedOrStaleHelloIsRefused() {
    TrunkHello hello = new TrunkHello(new byte[32]);
    TrunkFrame.Hello h = hello.seal(new byte[16], 0, PARAMS, 10_000);
    assertThat(hello.problem(h, 10_000 + TrunkHello.MAX_SKEW_MS)).isNull();
    assertThat(hello.problem(h, 10_001 + TrunkHello.MAX_SKEW_MS)).contains("clock skew or replay");
    TrunkFrame.Hello moreConnections =
        new TrunkFrame.Hello(
            h.trunkId(),
            0,
            new WanParameters(8, "bbr", 1 << 20, 0, 0, 12_500_000, 18),
            h.issuedAtMs(),
            h.seal());
    assertThat(hello.problem(moreConnections, 10_000)).contains("bad seal");
    byte[] otherKey = new byte[32];
    otherKey[0] = 1;
    assertThat(new TrunkHello(otherKey).problem(h, 10_000)).contains("bad seal");
    TrunkFrame.Hello outOfRange = hello.seal(new byte[16], 4, PARAMS, 10_000);
    assertThat(hello.problem(outOfRange, 10_000)).contains("connection 4 of 4");
  }

  private static ByteBuf header(int type, int length) {
    return Unpooled.buffer().writeByte(type).writeInt(1).writeInt(0).writeInt(length);
  }

  private static ByteBuf withBody(int type, byte[] body) {
    return header(type, body.length).writeBytes(body);
  }

  private static void decode(ByteBuf bytes) {
    new EmbeddedChannel(new TrunkFrameCodec()).writeInbound(bytes);
  }
}
