package io.baton.server.delivery;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;

/**
 * Counts the bytes an embedded connection reads from and writes to its socket. Sits first in the
 * pipeline, next to the socket, so it sees raw bytes before any decoding; writes count once the
 * socket has taken them.
 *
 * <p>One instance per channel; written on that channel's event loop only, read from any thread.
 */
final class ByteCounter extends ChannelDuplexHandler {
  // Volatile: the admin endpoint reads them from its own thread.
  private volatile long bytesRead;
  private volatile long bytesWritten;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf buf) bytesRead += buf.readableBytes();
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    long size = sizeOf(msg);
    if (size == 0) {
      ctx.write(msg, promise);
      return;
    }
    ChannelPromise counted = promise.unvoid();
    counted.addListener(
        f -> {
          if (f.isSuccess()) bytesWritten += size;
        });
    ctx.write(msg, counted);
  }

  private static long sizeOf(Object msg) {
    return switch (msg) {
      case ByteBuf buf -> buf.readableBytes();
      case ByteBufHolder holder -> holder.content().readableBytes();
      case FileRegion region -> region.count() - region.transferred();
      default -> 0;
    };
  }

  long bytesRead() {
    return bytesRead;
  }

  long bytesWritten() {
    return bytesWritten;
  }
}
