package io.baton.dispatcher;

import io.baton.dispatcher.routing.ClientHelloParser;
import io.baton.dispatcher.routing.HttpHeadParser;
import io.baton.dispatcher.routing.PickContext;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the first request of a new client connection (HTTP head, TLS ClientHello, or nothing in
 * L4 mode) within the VIP's size and time limits, routes it, and passes the connection to the
 * {@link HandoffCoordinator}. Every byte read is kept: it travels to the server in the moved
 * receive queue. Malformed heads get 400, oversized 431, slow clients 408 or a close.
 *
 * <p>One instance per connection; confined to the channel's event loop.
 */
final class FirstRequestHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(FirstRequestHandler.class);

  private final VipSite site;
  private final HandoffCoordinator coordinator;
  private final DispatcherStats stats;
  private HttpHeadParser http;
  private ClientHelloParser tls;
  private ByteBuf consumed;
  private ScheduledFuture<?> timer;
  private boolean decided;
  private boolean gotFirstByte;

  FirstRequestHandler(VipSite site, HandoffCoordinator coordinator, DispatcherStats stats) {
    this.site = site;
    this.coordinator = coordinator;
    this.stats = stats;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    stats.accepted.increment();
    if (site.mode() == Mode.L4) {
      decided = true;
      ctx.channel().config().setAutoRead(false);
      handOff(ctx, new byte[0], site.router().routeL4(), PickContext.of(clientIp(ctx)), "l4");
      return;
    }
    consumed = ctx.alloc().buffer(1024);
    if (site.mode() == Mode.HTTP) {
      http = new HttpHeadParser(site.maxHeadBytes());
    } else {
      tls = new ClientHelloParser(site.maxHeadBytes());
    }
    timer = ctx.executor().schedule(() -> timedOut(ctx), site.firstByteTimeout().toNanos(), TimeUnit.NANOSECONDS);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      if (decided) return; // late bytes after autoRead was switched off; cannot happen with epoll LT
      if (!gotFirstByte) {
        gotFirstByte = true;
        timer.cancel(false);
        timer = ctx.executor().schedule(() -> timedOut(ctx), site.headTimeout().toNanos(), TimeUnit.NANOSECONDS);
      }
      consumed.writeBytes(in, in.readerIndex(), in.readableBytes());
      if (http != null) {
        onHttp(ctx, http.offer(in.nioBuffer()));
      } else {
        onTls(ctx, tls.offer(in.nioBuffer()));
      }
    } finally {
      in.release();
    }
  }

  private void onHttp(ChannelHandlerContext ctx, HttpHeadParser.Result result) {
    switch (result) {
      case HttpHeadParser.NeedMore n -> { }
      case HttpHeadParser.Complete c -> {
        var head = c.head();
        String summary = head.method() + " " + head.target() + head.host().map(h -> " host=" + h).orElse("");
        decide(ctx);
        handOff(ctx, bytes(), site.router().route(head), PickContext.of(clientIp(ctx), head), summary);
      }
      case HttpHeadParser.Malformed m -> {
        decide(ctx);
        stats.answered400.increment();
        log.debug("{}: malformed request head: {}", ctx.channel().remoteAddress(), m.reason());
        Responses.answerAndClose(ctx.channel(), 400, "Bad Request", m.reason());
      }
      case HttpHeadParser.TooLarge t -> {
        decide(ctx);
        stats.answered431.increment();
        Responses.answerAndClose(ctx.channel(), 431, "Request Header Fields Too Large",
            "the request head exceeds " + t.limit() + " bytes");
      }
    }
  }

  private void onTls(ChannelHandlerContext ctx, ClientHelloParser.Result result) {
    switch (result) {
      case ClientHelloParser.NeedMore n -> { }
      case ClientHelloParser.Complete c -> {
        decide(ctx);
        handOff(ctx, bytes(), site.router().routeTls(c.sni()), PickContext.ofTls(clientIp(ctx), c.sni()),
            "tls sni=" + c.sni().orElse("-"));
      }
      case ClientHelloParser.NotTls n -> {
        decide(ctx);
        stats.closedNotTls.increment();
        log.debug("{}: not a TLS ClientHello: {}", ctx.channel().remoteAddress(), n.reason());
        Responses.lingerClose(ctx.channel());
      }
      case ClientHelloParser.TooLarge t -> {
        decide(ctx);
        stats.closedNotTls.increment();
        Responses.lingerClose(ctx.channel());
      }
    }
  }

  private void handOff(ChannelHandlerContext ctx, byte[] bytes, Optional<String> pool, PickContext pick, String summary) {
    ctx.pipeline().remove(this);
    stats.bytesReadBeforeHandoff.add(bytes.length);
    coordinator.handOff(ctx.channel(), site, bytes, pool, pick, summary);
  }

  /** Stops reading and timing: the connection's fate is decided. */
  private void decide(ChannelHandlerContext ctx) {
    decided = true;
    ctx.channel().config().setAutoRead(false);
    if (timer != null) timer.cancel(false);
  }

  private byte[] bytes() {
    byte[] b = new byte[consumed.readableBytes()];
    consumed.getBytes(consumed.readerIndex(), b);
    return b;
  }

  private void timedOut(ChannelHandlerContext ctx) {
    if (decided) return;
    decide(ctx);
    if (gotFirstByte && site.mode() == Mode.HTTP) {
      stats.answered408.increment();
      Responses.answerAndClose(ctx.channel(), 408, "Request Timeout",
          "the request head was not complete within " + site.headTimeout().toMillis() + " ms");
    } else {
      stats.closedSlow.increment();
      ctx.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (!decided) {
      stats.clientGone.increment();
      decided = true;
      if (timer != null) timer.cancel(false);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (consumed != null) {
      consumed.release();
      consumed = null;
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("{}: {}", ctx.channel().remoteAddress(), cause.toString());
    decided = true;
    if (timer != null) timer.cancel(false);
    ctx.close();
  }

  private static java.net.InetAddress clientIp(ChannelHandlerContext ctx) {
    return ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
  }
}
