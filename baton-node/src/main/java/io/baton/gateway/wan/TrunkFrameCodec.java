package io.baton.gateway.wan;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.MessageToByteEncoder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Encodes and decodes {@link TrunkFrame}s on one trunk connection. A frame that breaks the format
 * (unknown type, oversized or short body, bad address family) raises {@link
 * CorruptedFrameException}; the trunk then fails, since a connection that lost its framing cannot
 * be trusted for any stream.
 *
 * <p>Confined to its channel's event loop, like every Netty handler.
 */
public final class TrunkFrameCodec
    extends CombinedChannelDuplexHandler<TrunkFrameCodec.Decoder, TrunkFrameCodec.Encoder> {
  static final byte HELLO = 1;
  static final byte OPEN = 2;
  static final byte DATA = 3;
  static final byte FIN = 4;
  static final byte RESET = 5;
  static final byte CREDIT = 6;
  static final byte PING = 7;

  static final int TRUNK_ID_BYTES = 16;
  static final int SEAL_BYTES = 32;
  private static final int MAX_REASON_BYTES = 512;
  private static final int HELLO_FIXED_BYTES = TRUNK_ID_BYTES + 2 + 8 + 2 + 4 + 4 + 4 + 8 + 1 + 1;

  /** The HELLO's fields as sent, without the seal: what {@link TrunkHello} seals. */
  static byte[] signedPart(byte[] trunkId, int index, WanParameters p, long issuedAtMs) {
    byte[] cc = p.congestionControl().getBytes(StandardCharsets.US_ASCII);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(HELLO_FIXED_BYTES + cc.length);
    b.put(trunkId)
        .putShort((short) index)
        .putLong(issuedAtMs)
        .putShort((short) p.connections())
        .putInt(p.windowBytes())
        .putInt(p.sendBufferBytes())
        .putInt(p.receiveBufferBytes())
        .putLong(p.pacingBytesPerSecond())
        .put((byte) p.dscp())
        .put((byte) cc.length)
        .put(cc);
    return b.array();
  }

  public TrunkFrameCodec() {
    super(new Decoder(), new Encoder());
  }

  /** Frames to bytes; a Data frame's payload is released once copied. */
  static final class Encoder extends MessageToByteEncoder<TrunkFrame> {
    @Override
    protected void encode(ChannelHandlerContext ctx, TrunkFrame frame, ByteBuf out) {
      encodeTo(frame, out);
    }
  }

  /** Writes {@code frame} to {@code out}; releases a Data payload. */
  static void encodeTo(TrunkFrame frame, ByteBuf out) {
    switch (frame) {
      case TrunkFrame.Hello h -> {
        byte[] signed = signedPart(h.trunkId(), h.index(), h.params(), h.issuedAtMs());
        header(out, HELLO, 0, 0, signed.length + SEAL_BYTES);
        out.writeBytes(signed).writeBytes(h.seal());
      }
      case TrunkFrame.Open o -> {
        byte[] dst = o.destination().getAddress().getAddress();
        byte[] src = o.client().getAddress().getAddress();
        header(out, OPEN, o.stream(), o.seq(), 2 + dst.length + 2 + 2 + src.length + 2);
        address(out, dst, o.destination().getPort());
        address(out, src, o.client().getPort());
      }
      case TrunkFrame.Data d -> {
        try {
          header(out, DATA, d.stream(), d.seq(), d.payload().readableBytes());
          out.writeBytes(d.payload(), d.payload().readerIndex(), d.payload().readableBytes());
        } finally {
          d.payload().release();
        }
      }
      case TrunkFrame.Fin f -> header(out, FIN, f.stream(), f.seq(), 0);
      case TrunkFrame.Reset r -> {
        byte[] reason = truncate(r.reason().getBytes(StandardCharsets.UTF_8));
        header(out, RESET, r.stream(), 0, reason.length);
        out.writeBytes(reason);
      }
      case TrunkFrame.Credit c -> {
        header(out, CREDIT, c.stream(), 0, 8);
        out.writeLong(c.consumedBytes());
      }
      case TrunkFrame.Ping p -> {
        header(out, PING, 0, 0, 8);
        out.writeLong(p.sentAtMs());
      }
    }
  }

  private static byte[] truncate(byte[] reason) {
    if (reason.length <= MAX_REASON_BYTES) return reason;
    byte[] cut = new byte[MAX_REASON_BYTES];
    System.arraycopy(reason, 0, cut, 0, cut.length);
    return cut;
  }

  private static void header(ByteBuf out, byte type, int stream, int seq, int length) {
    out.writeByte(type).writeInt(stream).writeInt(seq).writeInt(length);
  }

  private static void address(ByteBuf out, byte[] address, int port) {
    out.writeByte(address.length == 4 ? 4 : 6).writeByte(0).writeBytes(address).writeShort(port);
  }

  /** Bytes to frames; Data payloads are retained slices of the cumulation (zero copy). */
  static final class Decoder extends ByteToMessageDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      while (in.readableBytes() >= TrunkFrame.HEADER_BYTES) {
        int start = in.readerIndex();
        byte type = in.getByte(start);
        int stream = in.getInt(start + 1);
        int seq = in.getInt(start + 5);
        int length = in.getInt(start + 9);
        if (length < 0 || length > TrunkFrame.MAX_BODY_BYTES) {
          throw new CorruptedFrameException(
              "trunk frame body of "
                  + Integer.toUnsignedString(length)
                  + " bytes (at most "
                  + TrunkFrame.MAX_BODY_BYTES
                  + ")");
        }
        if (in.readableBytes() < TrunkFrame.HEADER_BYTES + length) return;
        in.skipBytes(TrunkFrame.HEADER_BYTES);
        ByteBuf body = in.readSlice(length);
        out.add(decodeBody(type, stream, seq, body));
      }
    }
  }

  /** One frame from its header fields and body; visible for tests. */
  static TrunkFrame decodeBody(byte type, int stream, int seq, ByteBuf body) {
    int length = body.readableBytes();
    switch (type) {
      case HELLO -> {
        expect(
            length >= HELLO_FIXED_BYTES + SEAL_BYTES
                && length <= HELLO_FIXED_BYTES + 15 + SEAL_BYTES,
            "HELLO",
            length);
        byte[] id = new byte[TRUNK_ID_BYTES];
        body.readBytes(id);
        int index = body.readUnsignedShort();
        long issued = body.readLong();
        int connections = body.readUnsignedShort();
        int window = body.readInt();
        int sndbuf = body.readInt();
        int rcvbuf = body.readInt();
        long pacing = body.readLong();
        int dscp = body.readUnsignedByte();
        int ccLength = body.readUnsignedByte();
        expect(body.readableBytes() == ccLength + SEAL_BYTES, "HELLO", length);
        String cc = body.readCharSequence(ccLength, StandardCharsets.US_ASCII).toString();
        byte[] seal = new byte[SEAL_BYTES];
        body.readBytes(seal);
        WanParameters params;
        try {
          params = new WanParameters(connections, cc, window, sndbuf, rcvbuf, pacing, dscp);
        } catch (IllegalArgumentException e) {
          throw new CorruptedFrameException("HELLO with bad parameters: " + e.getMessage());
        }
        return new TrunkFrame.Hello(id, index, params, issued, seal);
      }
      case OPEN -> {
        InetSocketAddress dst = address(body);
        InetSocketAddress src = address(body);
        expect(body.readableBytes() == 0, "OPEN", length);
        return new TrunkFrame.Open(stream, seq, dst, src);
      }
      case DATA -> {
        return new TrunkFrame.Data(stream, seq, body.retain());
      }
      case FIN -> {
        expect(length == 0, "FIN", length);
        return new TrunkFrame.Fin(stream, seq);
      }
      case RESET -> {
        expect(length <= MAX_REASON_BYTES, "RESET", length);
        return new TrunkFrame.Reset(stream, body.toString(StandardCharsets.UTF_8));
      }
      case CREDIT -> {
        expect(length == 8, "CREDIT", length);
        return new TrunkFrame.Credit(stream, body.readLong());
      }
      case PING -> {
        expect(length == 8, "PING", length);
        return new TrunkFrame.Ping(body.readLong());
      }
      default -> throw new CorruptedFrameException("unknown trunk frame type " + (type & 0xff));
    }
  }

  private static void expect(boolean ok, String what, int length) {
    if (!ok) throw new CorruptedFrameException(what + " frame with a body of " + length + " bytes");
  }

  private static InetSocketAddress address(ByteBuf body) {
    if (body.readableBytes() < 2) throw new CorruptedFrameException("OPEN frame cut short");
    int family = body.readUnsignedByte();
    body.skipBytes(1);
    int bytes =
        switch (family) {
          case 4 -> 4;
          case 6 -> 16;
          default -> throw new CorruptedFrameException("OPEN frame with address family " + family);
        };
    if (body.readableBytes() < bytes + 2) throw new CorruptedFrameException("OPEN frame cut short");
    byte[] raw = new byte[bytes];
    body.readBytes(raw);
    int port = body.readUnsignedShort();
    try {
      return new InetSocketAddress(InetAddress.getByAddress(raw), port);
    } catch (UnknownHostException e) {
      throw new CorruptedFrameException("OPEN frame address", e);
    }
  }
}
