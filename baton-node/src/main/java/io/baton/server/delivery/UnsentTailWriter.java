package io.baton.server.delivery;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Writes the bytes the connection's previous owner never sent, before the application can write
 * anything: it sits ahead of the application's handlers and writes when the channel becomes active,
 * then leaves the pipeline. Later writes queue behind the tail in Netty's outbound buffer, so order
 * on the wire is kept.
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class UnsentTailWriter extends ChannelInboundHandlerAdapter {
  private final byte[] tail;

  UnsentTailWriter(byte[] tail) {
    this.tail = tail;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.writeAndFlush(Unpooled.wrappedBuffer(tail));
    ctx.pipeline().remove(this);
    ctx.fireChannelActive();
  }
}
