package io.baton.app;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;

/**
 * Stops reading from a connection while its outbound buffer is above Netty's high-water mark and
 * resumes once it has drained below the low one. Without it, a client that uploads faster than it
 * reads (a streamed {@code POST /echo}) would pile its whole body up in memory.
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class WriteBackpressure extends ChannelDuplexHandler {

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ctx.fireChannelRead(msg);
    if (!ctx.channel().isWritable()) ctx.channel().config().setAutoRead(false);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && !MigrationPoint.holdsReads(ctx.pipeline())) {
      ctx.channel().config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }
}
