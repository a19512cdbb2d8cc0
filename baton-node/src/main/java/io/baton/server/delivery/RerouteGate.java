package io.baton.server.delivery;

import io.baton.routing.HttpHeadParser;
import io.baton.routing.RequestHead;
import io.baton.transplant.FlowKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes every request of a keep-alive connection by its VIP's rules ({@code reroute:
 * per-request}): the first handler of a delivered connection's pipeline, ahead of the application.
 * It follows HTTP/1.1's framing in the bytes the client sends (a head, then a body of
 * Content-Length bytes) and, at each request boundary, reads the next head before the application
 * sees a byte of it. A request that belongs to a pool this server is not in stops here: reading
 * stops, and the connection moves (live migration) to a server of that pool with the request unread
 * ({@link #held}), where it is served. If it cannot move, the request is served here (counted,
 * logged).
 *
 * <p>A chunked request body, or a head this gate cannot parse, ends its work on the connection:
 * from then on bytes pass through unrouted, and the application answers them as it would.
 *
 * <p>One instance per channel; confined to its event loop.
 */
public final class RerouteGate extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(RerouteGate.class);

  /** Where requests belong, and the move to another server. */
  public interface Placement {
    /** The pool a request belongs to when this server is not one of its members; else empty. */
    Optional<String> elsewhere(RequestHead head);

    /**
     * Moves the connection to a server of {@code pool}; completes (any thread) with whether it
     * moved.
     */
    CompletableFuture<Boolean> move(FlowKey flow, String pool);
  }

  /** What the gates of a server did, for the metrics. */
  public static final class Counters {
    public final LongAdder moved = new LongAdder();
    public final LongAdder servedHere = new LongAdder();
    public final LongAdder unrouted = new LongAdder();
  }

  private enum State {
    HEAD,
    BODY,
    MOVING,
    PASS
  }

  private final Placement placement;
  private final FlowKey flow;
  private final int maxHeadBytes;
  private final Counters counters;
  private State state = State.HEAD;
  private HttpHeadParser parser;
  private ByteBuf held; // bytes from the current request boundary on, not passed yet
  private long bodyLeft;

  public RerouteGate(Placement placement, FlowKey flow, int maxHeadBytes, Counters counters) {
    this.placement = placement;
    this.flow = flow;
    this.maxHeadBytes = maxHeadBytes;
    this.counters = counters;
  }

  /** The bytes of the request (and anything after it) that stopped here; empty when none. */
  byte[] held() {
    return held == null ? new byte[0] : ByteBufUtil.getBytes(held);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf buf) {
      process(ctx, buf);
    } else {
      ctx.fireChannelRead(msg);
    }
  }

  /** Frames {@code buf} (released here) into requests and decides on each head. */
  private void process(ChannelHandlerContext ctx, ByteBuf buf) {
    try {
      while (buf.isReadable()) {
        switch (state) {
          case BODY -> {
            int n = (int) Math.min(bodyLeft, buf.readableBytes());
            ctx.fireChannelRead(buf.readRetainedSlice(n));
            bodyLeft -= n;
            if (bodyLeft == 0) state = State.HEAD;
          }
          case HEAD -> {
            if (parser == null) parser = new HttpHeadParser(maxHeadBytes);
            ByteBuffer nio = buf.nioBuffer();
            int start = nio.position();
            HttpHeadParser.Result r = parser.offer(nio);
            hold(ctx, buf.readSlice(nio.position() - start));
            switch (r) {
              case HttpHeadParser.NeedMore n -> {}
              case HttpHeadParser.Complete c -> decide(ctx, c.head());
              default -> {
                // Malformed or too large: the application answers it; nothing is routed from here
                // on.
                counters.unrouted.increment();
                state = State.PASS;
                passHeld(ctx);
              }
            }
          }
          case MOVING ->
              hold(ctx, buf.readSlice(buf.readableBytes())); // read before reading stopped
          case PASS -> {
            ctx.fireChannelRead(buf.retain());
            return;
          }
        }
      }
    } finally {
      buf.release();
    }
  }

  private void decide(ChannelHandlerContext ctx, RequestHead head) {
    parser = null;
    Optional<String> pool = placement.elsewhere(head);
    if (pool.isEmpty()) {
      framing(head);
      passHeld(ctx);
      return;
    }
    state = State.MOVING;
    int headLength = held.readableBytes();
    ctx.channel().config().setAutoRead(false);
    placement
        .move(flow, pool.get())
        .whenComplete(
            (moved, e) ->
                ctx.executor()
                    .execute(
                        () -> {
                          if (Boolean.TRUE.equals(moved)) {
                            counters.moved.increment();
                            release();
                            return;
                          }
                          counters.servedHere.increment();
                          log.info(
                              "{}: a request for pool {} is served here: {}",
                              flow,
                              pool.get(),
                              e != null
                                  ? e.getMessage()
                                  : "it could not move (see the migration's log line)");
                          if (!ctx.channel().isOpen()) {
                            release();
                            return;
                          }
                          ByteBuf rest = held;
                          held = null;
                          framing(head);
                          ctx.fireChannelRead(rest.readRetainedSlice(headLength));
                          process(ctx, rest);
                          ctx.fireChannelReadComplete();
                          ctx.channel().config().setAutoRead(true);
                        }));
  }

  /** After a head: its body's length, or the end of routing for a chunked body. */
  private void framing(RequestHead head) {
    if (head.headers().contains("Transfer-Encoding")) {
      counters.unrouted.increment();
      state = State.PASS;
      return;
    }
    bodyLeft = head.headers().first("Content-Length").map(Long::parseLong).orElse(0L);
    state = bodyLeft > 0 ? State.BODY : State.HEAD;
  }

  private void passHeld(ChannelHandlerContext ctx) {
    ByteBuf h = held;
    held = null;
    if (h != null) ctx.fireChannelRead(h);
  }

  private void hold(ChannelHandlerContext ctx, ByteBuf piece) {
    if (!piece.isReadable()) return;
    if (held == null) held = ctx.alloc().buffer(piece.readableBytes());
    held.writeBytes(piece);
  }

  private void release() {
    if (held != null) {
      held.release();
      held = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    release();
    ctx.fireChannelInactive();
  }
}
