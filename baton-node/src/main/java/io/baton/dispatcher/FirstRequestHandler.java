package io.baton.dispatcher;

import io.baton.log.RateLimitedLog;
import io.baton.routing.ClientHelloParser;
import io.baton.routing.HttpHeadParser;
import io.baton.routing.PickContext;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the first request of a new client connection (HTTP head, TLS ClientHello, or nothing in L4
 * mode) within the VIP's size and time limits, routes it, and passes the connection to the {@link
 * HandoffCoordinator}. Every byte read is kept: it travels to the server in the moved receive
 * queue. Malformed heads get 400, oversized heads or too many header fields 431, slow clients 408
 * or a close.
 *
 * <p>The first-request phase is bounded in three ways, so that slow or silent clients cannot hold
 * the dispatcher: the {@link AdmissionControl} caps how many connections are in it (in total and
 * per client IP; over a cap the connection is closed at accept), and both timers run from accept —
 * the first byte must come within {@code first-byte}, the whole head within {@code head}, however
 * the client spreads its bytes (slowloris). The admission is released exactly once when the phase
 * ends, whatever ends it: handoff started, answered, closed by either side, timed out, or an
 * exception.
 *
 * <p>One instance per connection; confined to the channel's event loop.
 */
final class FirstRequestHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(FirstRequestHandler.class);

  /** Refusals at accept come in floods: one line per refused connection would be a second flood. */
  private static final RateLimitedLog refusalLog = new RateLimitedLog(log, "admission refusals", 5);

  private final VipSite site;
  private final HandoffCoordinator coordinator;
  private final DispatcherStats stats;
  private final AdmissionControl admission;
  private final int maxHeaderCount;
  private AdmissionControl.Ticket ticket;
  private HttpHeadParser http;
  private ClientHelloParser tls;
  private ByteBuf consumed;

  /** One timer per connection: the first-byte deadline, then (rescheduled) the head's. */
  private ScheduledFuture<?> timer;

  private boolean decided;
  private boolean gotFirstByte;

  /**
   * @param admission shared by every connection of this dispatcher
   * @param maxHeaderCount header fields an http head may have before it gets 431
   */
  FirstRequestHandler(
      VipSite site,
      HandoffCoordinator coordinator,
      DispatcherStats stats,
      AdmissionControl admission,
      int maxHeaderCount) {
    this.site = site;
    this.coordinator = coordinator;
    this.stats = stats;
    this.admission = admission;
    this.maxHeaderCount = maxHeaderCount;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    stats.accepted.increment();
    stats.forVip(site.vip()).accepted.increment();
    ticket = admission.tryAdmit(clientIp(ctx));
    if (!ticket.admitted()) {
      refuse(ctx);
      return;
    }
    stats.firstRequestPhase.increment();
    if (site.mode() == Mode.L4) {
      decided = true;
      ctx.channel().config().setAutoRead(false);
      handOff(ctx, new byte[0], site.router().routeL4(), PickContext.of(clientIp(ctx)), "l4");
      return;
    }
    consumed = ctx.alloc().buffer(1024);
    if (site.mode() == Mode.HTTP) {
      http = new HttpHeadParser(site.maxHeadBytes(), maxHeaderCount);
    } else {
      tls = new ClientHelloParser(site.maxHeadBytes());
    }
    // Both deadlines run from accept: a client that sends one byte early and then trickles the
    // rest must not get a fresh head timeout from its first byte. One timer serves both (one
    // schedule and one cancel per connection instead of two each).
    long firstByteNs = site.firstByteTimeout().toNanos();
    long headNs = site.headTimeout().toNanos();
    timer =
        ctx.executor()
            .schedule(
                () -> firstByteDeadline(ctx, firstByteNs, headNs),
                Math.min(firstByteNs, headNs),
                TimeUnit.NANOSECONDS);
    ctx.fireChannelActive();
  }

  /** Over a cap: close at once, before reading anything, and count why. */
  private void refuse(ChannelHandlerContext ctx) {
    decided = true;
    boolean total = ticket.outcome() == AdmissionControl.Outcome.REFUSED_TOTAL;
    (total ? stats.refusedPendingTotal : stats.refusedPendingPerClient).increment();
    refusalLog.info(
        "{}: closed at accept: {}",
        ctx.channel().remoteAddress(),
        total
            ? "the dispatcher's connections in the first-request phase are at their cap"
            : "this client's connections in the first-request phase are at their cap");
    ctx.close();
  }

  /**
   * The client's FIN during the first request: if this node then answers it itself (peer mode), the
   * answer must not lose its epoll registration to Netty's bug (see KeepEpollRegistered).
   */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
      io.baton.netty.KeepEpollRegistered.onInputShutdown(ctx.channel());
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      if (decided)
        return; // late bytes after autoRead was switched off; cannot happen with epoll LT
      gotFirstByte = true;
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
      case HttpHeadParser.NeedMore n -> {}
      case HttpHeadParser.Complete c -> {
        var head = c.head();
        decide(ctx);
        handOff(
            ctx,
            bytes(),
            site.router().route(head),
            PickContext.of(clientIp(ctx), head),
            RequestSummary.http(head.method(), head.target(), head.host()));
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
        Responses.answerAndClose(
            ctx.channel(),
            431,
            "Request Header Fields Too Large",
            "the request head exceeds " + t.limit() + " bytes");
      }
      case HttpHeadParser.TooManyFields t -> {
        decide(ctx);
        stats.answered431.increment();
        stats.answered431HeaderCount.increment();
        Responses.answerAndClose(
            ctx.channel(),
            431,
            "Request Header Fields Too Large",
            "the request head has more than " + t.limit() + " header fields");
      }
    }
  }

  private void onTls(ChannelHandlerContext ctx, ClientHelloParser.Result result) {
    switch (result) {
      case ClientHelloParser.NeedMore n -> {}
      case ClientHelloParser.Complete c -> {
        decide(ctx);
        handOff(
            ctx,
            bytes(),
            site.router().routeTls(c.sni()),
            PickContext.ofTls(clientIp(ctx), c.sni()),
            RequestSummary.tls(c.sni()));
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

  private void handOff(
      ChannelHandlerContext ctx,
      byte[] bytes,
      Optional<String> pool,
      PickContext pick,
      String summary) {
    // Counted as a handoff from before its first-request phase ends until its machine counts it:
    // a stopping dispatcher that saw neither would close the fabric under it.
    stats.inFlightHandoffs.increment();
    try {
      endPhase();
      ctx.pipeline().remove(this);
      stats.bytesReadBeforeHandoff.add(bytes.length);
      coordinator.handOff(ctx.channel(), site, bytes, pool, pick, summary);
    } finally {
      stats.inFlightHandoffs.decrement();
    }
  }

  /** Stops reading and timing: the connection's fate is decided, its first-request phase ends. */
  private void decide(ChannelHandlerContext ctx) {
    decided = true;
    ctx.channel().config().setAutoRead(false);
    endPhase();
  }

  /** Cancels the timers and releases the admission; safe to call more than once. */
  private void endPhase() {
    if (timer != null) timer.cancel(false);
    if (ticket != null && ticket.admitted()) {
      ticket.release();
      ticket = null;
      stats.firstRequestPhase.decrement();
    }
  }

  private byte[] bytes() {
    byte[] b = new byte[consumed.readableBytes()];
    consumed.getBytes(consumed.readerIndex(), b);
    return b;
  }

  /**
   * At the first-byte deadline (or the head's, if that comes first): time out, or wait for the
   * head's.
   */
  private void firstByteDeadline(ChannelHandlerContext ctx, long firstByteNs, long headNs) {
    if (decided) return;
    if (!gotFirstByte || headNs <= firstByteNs) {
      timedOut(ctx);
    } else {
      timer =
          ctx.executor().schedule(() -> timedOut(ctx), headNs - firstByteNs, TimeUnit.NANOSECONDS);
    }
  }

  private void timedOut(ChannelHandlerContext ctx) {
    if (decided) return;
    decide(ctx);
    if (gotFirstByte && site.mode() == Mode.HTTP) {
      stats.answered408.increment();
      Responses.answerAndClose(
          ctx.channel(),
          408,
          "Request Timeout",
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
    }
    endPhase();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    endPhase(); // backstop: however the handler leaves the pipeline, the phase is over
    if (consumed != null) {
      consumed.release();
      consumed = null;
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("{}: {}", ctx.channel().remoteAddress(), cause.toString());
    decided = true;
    endPhase();
    ctx.close();
  }

  private static InetAddress clientIp(ChannelHandlerContext ctx) {
    return ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
  }
}
