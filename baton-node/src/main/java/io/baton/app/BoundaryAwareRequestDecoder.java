package io.baton.app;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * Netty's request decoder, knowing whether it stands at a request boundary: whether every byte it
 * consumed belongs to a request it has finished decoding. Then the bytes it holds unconsumed are
 * the untouched start of the next request, which a migration can carry to another server ({@link
 * MigrationPoint}). (Mid-head it has consumed the complete header lines into a message it is still
 * building, so those bytes exist nowhere else.)
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class BoundaryAwareRequestDecoder extends HttpRequestDecoder {
  private long consumed;
  private long consumedAtLastEnd;

  BoundaryAwareRequestDecoder(HttpDecoderConfig config) {
    super(config);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out)
      throws Exception {
    int before = buffer.readerIndex();
    int emitted = out.size();
    super.decode(ctx, buffer, out);
    consumed += buffer.readerIndex() - before;
    for (int i = emitted; i < out.size(); i++) {
      if (out.get(i) instanceof LastHttpContent) consumedAtLastEnd = consumed;
    }
  }

  /** Whether the decoder is between requests (nothing of a request consumed but not finished). */
  boolean atBoundary() {
    return consumed == consumedAtLastEnd;
  }

  /** The bytes read but not yet decoded: at a boundary, the start of the next request. */
  byte[] unread() {
    ByteBuf held = internalBuffer();
    return held.isReadable() ? ByteBufUtil.getBytes(held) : new byte[0];
  }
}
