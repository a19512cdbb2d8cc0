package io.baton.dispatcher;

import io.baton.transplant.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A client connection accepted by the dispatcher's Netty listener, as a {@link HandoffMachine} sees
 * it: the channel's event loop is the owner thread. Confined to that event loop.
 */
final class ChannelClientSide implements ClientSide {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(ChannelClientSide.class);

  private final Channel ch;
  private final VipSite site;
  private final HandoffCoordinator.LocalService local;
  private final FlowKey flow;
  private final int fd;
  private byte[] read;

  ChannelClientSide(Channel ch, VipSite site, byte[] head, HandoffCoordinator.LocalService local) {
    this.ch = ch;
    this.site = site;
    this.read = head;
    this.local = local;
    this.flow =
        FlowKey.of((InetSocketAddress) ch.remoteAddress(), (InetSocketAddress) ch.localAddress());
    this.fd = ((EpollSocketChannel) ch).fd().intValue();
    // Netty keeps reading after auto-read is off when the client half-closes (EPOLLRDHUP makes it
    // read to the end of the stream): whatever it reads must still move with the connection.
    ch.pipeline().addLast(LATE_BYTES, new LateBytes());
  }

  private static final String LATE_BYTES = "late-bytes";

  /** Keeps what Netty reads after the first request (see the constructor). */
  private final class LateBytes extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf in = (ByteBuf) msg;
      try {
        byte[] more = new byte[read.length + in.readableBytes()];
        System.arraycopy(read, 0, more, 0, read.length);
        in.getBytes(in.readerIndex(), more, read.length, in.readableBytes());
        read = more;
      } finally {
        in.release();
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      ReferenceCountUtil.release(evt); // input shutdown: the FIN moves with the state
    }
  }

  @Override
  public byte[] alreadyRead() {
    return read;
  }

  @Override
  public FlowKey flow() {
    return flow;
  }

  @Override
  public int fd() {
    return fd;
  }

  @Override
  public boolean isOpen() {
    return ch.isActive();
  }

  @Override
  public void execute(Runnable task) {
    ch.eventLoop().execute(task);
  }

  @Override
  public Runnable schedule(Runnable task, long delayNs) {
    ScheduledFuture<?> f = ch.eventLoop().schedule(task, delayNs, TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public boolean serveLocally() {
    if (local == null) return false;
    // Accepted from a listener bound to the front interface (peer mode): served here, its later
    // packets may also come over the fabric (BoundInterface).
    try {
      ch.config()
          .setOption(
              io.baton.netty.BoundInterface.SO_BINDTOIFINDEX,
              io.baton.netty.BoundInterface.UNBOUND);
    } catch (io.netty.channel.ChannelException e) {
      log.warn("{}: cannot serve it here: {}", flow(), e.getMessage());
      return false;
    }
    ChannelHandler capture = ch.pipeline().get(LATE_BYTES);
    if (capture != null) ch.pipeline().remove(capture);
    if (local.serve(ch, read, site.vip())) return true;
    if (capture != null) ch.pipeline().addLast(LATE_BYTES, capture);
    return false;
  }

  @Override
  public void close() {
    ch.close();
  }

  @Override
  public void reset() {
    ch.config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
    ch.close();
  }

  @Override
  public boolean answerUnavailable() {
    if (site.mode() == Mode.HTTP) {
      Responses.unavailable(ch); // the body names no node or pool: the reason is in the log
      return true;
    }
    Responses.lingerClose(ch);
    return false;
  }
}
