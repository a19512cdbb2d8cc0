package io.baton.gateway.wan;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * Hands a trunk connection's frames to its {@link Trunk}; a silent, failed or corrupt connection
 * fails the trunk. Confined to the trunk's event loop.
 */
final class TrunkConnectionHandler extends ChannelInboundHandlerAdapter {
  private final Trunk trunk;
  private final int index;

  TrunkConnectionHandler(Trunk trunk, int index) {
    this.trunk = trunk;
    this.index = index;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    trunk.onFrame((TrunkFrame) msg);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      trunk.fail(
          "connection "
              + index
              + " to "
              + trunk.peer()
              + " silent for "
              + Trunk.DEAD_AFTER_MS
              + " ms");
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    trunk.fail("connection " + index + " to " + trunk.peer() + ": " + cause);
    ctx.close();
  }
}
