package io.baton.app;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;

/**
 * Serves clients that send their request and then half-close (a FIN after the request: {@code nc
 * -N}, {@code shutdown(SHUT_WR)}): on a channel with {@link
 * io.netty.channel.ChannelOption#ALLOW_HALF_CLOSURE} Netty reports the FIN as a {@link
 * ChannelInputShutdownEvent} instead of closing, and this handler closes the connection once every
 * answer written before it has gone out. Without half-closure Netty would close at once and drop
 * whatever part of a large answer was still queued.
 *
 * <p>Sits after the HTTP codec, whose own handling of the event (decoding the last request) runs
 * first. Sharable and stateless.
 */
@io.netty.channel.ChannelHandler.Sharable
final class CloseWhenInputEnds extends ChannelInboundHandlerAdapter {
  static final CloseWhenInputEnds INSTANCE = new CloseWhenInputEnds();

  private CloseWhenInputEnds() {}

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      // An empty write queues behind the answers already written (chunked files included), so
      // its completion means they have all been handed to the socket.
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
    ctx.fireUserEventTriggered(evt);
  }
}
