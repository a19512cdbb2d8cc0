package io.baton.handoff;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Cuts the inbound byte stream into frame bodies (everything after the length field, as a retained
 * slice the next handler must release), checking what can be checked before a frame is complete:
 * the length against the current limit, the magic and the version. A bad length is refused as soon
 * as its four bytes arrive, so a peer cannot make us wait for or buffer a huge frame; the
 * cumulation only ever holds bytes the peer actually sent.
 *
 * <p>On the first bad header it emits one {@link Malformed} instead of a frame and from then on
 * discards all input (the session closes the channel). The limit starts at {@link
 * FabricFrame#MAX_HELLO_BODY_BYTES} and is raised once the session is established.
 *
 * <p>One instance per channel, confined to its event loop.
 */
final class FrameDecoder extends ByteToMessageDecoder {
  /** A frame whose header was refused. */
  record Malformed(String reason) {}

  private long limit = FabricFrame.MAX_HELLO_BODY_BYTES;
  private boolean established;
  private boolean failed;

  /** Allows frames of up to {@code maxFrameBytes} (length field included) from now on. */
  void allowFramesUpTo(int maxFrameBytes) {
    limit = maxFrameBytes - FabricFrame.LENGTH_FIELD_BYTES;
    established = true;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    int at = in.readerIndex();
    if (in.readableBytes() < FabricFrame.LENGTH_FIELD_BYTES) return;
    long length = in.getUnsignedInt(at);
    if (length < FabricFrame.MIN_BODY_BYTES || length > limit) {
      fail(
          in,
          out,
          "frame length "
              + length
              + " is outside "
              + FabricFrame.MIN_BODY_BYTES
              + ".."
              + limit
              + (established ? "" : " before HELLO"));
      return;
    }
    if (in.readableBytes() >= FabricFrame.LENGTH_FIELD_BYTES + 2) {
      int magic = in.getUnsignedShort(at + FabricFrame.LENGTH_FIELD_BYTES);
      if (magic != FabricFrame.MAGIC) {
        fail(in, out, String.format("bad magic 0x%04X, expected 0x%04X", magic, FabricFrame.MAGIC));
        return;
      }
    }
    if (in.readableBytes() >= FabricFrame.LENGTH_FIELD_BYTES + 3) {
      int version = in.getUnsignedByte(at + FabricFrame.LENGTH_FIELD_BYTES + 2);
      if (version != FabricFrame.VERSION) {
        fail(
            in,
            out,
            "unsupported version " + version + ", this node speaks " + FabricFrame.VERSION);
        return;
      }
    }
    if (in.readableBytes() < FabricFrame.LENGTH_FIELD_BYTES + length) return;
    in.skipBytes(FabricFrame.LENGTH_FIELD_BYTES);
    out.add(in.readRetainedSlice((int) length));
  }

  private void fail(ByteBuf in, List<Object> out, String reason) {
    failed = true;
    in.skipBytes(in.readableBytes());
    out.add(new Malformed(reason));
  }
}
