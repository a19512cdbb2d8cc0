package io.baton.server.delivery;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.concurrent.atomic.LongAdder;

/**
 * Closes an embedded connection (a normal close: FIN) when the {@link
 * io.netty.handler.timeout.IdleStateHandler} ahead of it reports no traffic in either direction for
 * the idle timeout, and counts it. Without this, idle keep-alive clients would hold their
 * connections, and the server's connection slots, forever.
 *
 * <p>Sharable: one instance per delivery, the counter is thread-safe; events arrive on each
 * channel's event loop.
 */
@ChannelHandler.Sharable
final class IdleCloser extends ChannelInboundHandlerAdapter {
  private final LongAdder closed;

  IdleCloser(LongAdder closed) {
    this.closed = closed;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent e && e.state() == IdleState.ALL_IDLE) {
      closed.increment();
      ctx.close();
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }
}
