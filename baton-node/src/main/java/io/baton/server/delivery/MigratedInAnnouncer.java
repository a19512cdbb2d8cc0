package io.baton.server.delivery;

import io.baton.migration.MigratedIn;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Tells a migrated connection's application, on {@code channelActive} and before its first read,
 * what the source's application gave to carry on with ({@link MigratedIn}); then leaves the
 * pipeline. It sits after the unsent-tail writer, so the source's never-sent bytes go first.
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class MigratedInAnnouncer extends ChannelInboundHandlerAdapter {
  private final byte[] appState;

  MigratedInAnnouncer(byte[] appState) {
    this.appState = appState;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.pipeline().remove(this);
    ctx.fireUserEventTriggered(new MigratedIn(appState));
    ctx.fireChannelActive();
  }
}
