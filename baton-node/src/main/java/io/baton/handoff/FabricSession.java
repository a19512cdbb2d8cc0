package io.baton.handoff;

import io.baton.handoff.FabricMessage.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The protocol state of one fabric connection, shared by both ends: the HELLO exchange,
 * verification of every inbound frame, sealing of every outbound {@link FabricMessage}, and the
 * refusal policy — a frame that fails authentication or breaks the format closes the connection,
 * moves a counter and logs one WARN line naming the peer and the reason. Verified messages other
 * than HELLO go to {@link Events}; nothing unverified ever does, and no exception leaves this
 * handler into the rest of the pipeline.
 *
 * <p>Pipeline: {@link FrameDecoder} then this handler. Writes of a {@link FabricMessage} through
 * the channel (from any thread, as Netty allows) are sealed here; they fail with a {@link
 * HandoffException} until the session is established.
 *
 * <p>One instance per channel; all its state is confined to the channel's event loop.
 */
final class FabricSession extends ChannelDuplexHandler {
  private static final Logger log = LoggerFactory.getLogger(FabricSession.class);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** What the endpoint does with a session. Called on the channel's event loop; must not block. */
  interface Events {
    /**
     * The peer's HELLO verified. On the agent this runs before its own HELLO is written, so it must
     * not write to the channel itself; writes from other threads queue behind the HELLO.
     */
    void onEstablished(Channel channel, String peerNode);

    /** A verified message other than HELLO. */
    void onMessage(Channel channel, String peerNode, FabricMessage message);
  }

  private final boolean dispatcher;
  private final String localNode;
  private final FrameDecoder decoder;
  private final FrameAuthenticator auth;
  private final FabricCounters counters;
  private final int maxFrameBytes;
  private final long helloTimeoutMs;
  private final Events events;
  private final Liveness liveness;
  // Times on the event loop's ticker (Netty's clock: tests move it with
  // EmbeddedChannel#advanceTimeBy).
  private long lastReadNs;
  private long lastWriteNs;
  private ScheduledFuture<?> heartbeatTimer;
  private final byte[] localNonce = new byte[FabricMessage.NONCE_BYTES];
  private String peerNode; // null until the peer's HELLO is verified
  private int peerMaxFrameBytes = Integer.MAX_VALUE; // what the peer said it accepts
  private boolean refused; // a frame was refused; the channel is closing
  private ScheduledFuture<?> helloTimer;

  FabricSession(
      boolean dispatcher,
      EndpointSettings settings,
      FrameDecoder decoder,
      FabricCounters counters,
      long helloTimeoutMs,
      Events events) {
    this(dispatcher, settings, decoder, counters, helloTimeoutMs, events, Liveness.DEFAULT);
  }

  FabricSession(
      boolean dispatcher,
      EndpointSettings settings,
      FrameDecoder decoder,
      FabricCounters counters,
      long helloTimeoutMs,
      Events events,
      Liveness liveness) {
    this.liveness = liveness;
    this.dispatcher = dispatcher;
    this.localNode = settings.nodeName();
    this.decoder = decoder;
    this.auth =
        new FrameAuthenticator(
            settings.key(), dispatcher ? FrameAuthenticator.DISPATCHER : FrameAuthenticator.AGENT);
    this.counters = counters;
    this.maxFrameBytes = settings.maxFrameBytes();
    this.helloTimeoutMs = helloTimeoutMs;
    this.events = events;
    RANDOM.nextBytes(localNonce);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    lastReadNs = lastWriteNs = now(ctx);
    helloTimer =
        ctx.executor()
            .schedule(
                () -> {
                  if (peerNode == null && ctx.channel().isActive()) {
                    log.warn(
                        "closing fabric connection with {}: no HELLO within {} ms",
                        peer(ctx),
                        helloTimeoutMs);
                    ctx.close();
                  }
                },
                helloTimeoutMs,
                TimeUnit.MILLISECONDS);
    if (dispatcher) {
      ctx.writeAndFlush(auth.seal(ctx.alloc(), new Hello(localNode, localNonce, maxFrameBytes)));
      auth.bindDispatcherNonce(localNonce);
    }
    ctx.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (helloTimer != null) helloTimer.cancel(false);
    if (heartbeatTimer != null) heartbeatTimer.cancel(false);
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof FrameDecoder.Malformed m) {
      malformed(ctx, m.reason());
      return;
    }
    ByteBuf body = (ByteBuf) msg;
    lastReadNs = now(ctx);
    try {
      if (!refused) onFrame(ctx, body);
    } catch (RuntimeException e) {
      unexpected(ctx, e);
    } finally {
      body.release();
    }
  }

  private void onFrame(ChannelHandlerContext ctx, ByteBuf body) {
    MessageType type;
    try {
      type = MessageType.ofCode(FabricFrame.typeCode(body));
    } catch (FrameFormatException e) {
      malformed(ctx, e.getMessage());
      return;
    }
    ByteBuf payload;
    try {
      payload = auth.open(body);
    } catch (FrameAuthenticator.FailedException e) {
      counters.authFailures.increment();
      refuse(ctx, "refused " + type + " frame: " + e.getMessage());
      return;
    }
    if (!type.mayBeSentBy(!dispatcher)) {
      malformed(ctx, type + " is not a message a " + peerRole() + " sends");
      return;
    }
    FabricMessage m;
    try {
      m = FabricMessageCodec.decode(type, payload);
    } catch (FrameFormatException e) {
      malformed(ctx, e.getMessage());
      return;
    }
    if (peerNode == null) {
      if (m instanceof Hello h) {
        onHello(ctx, h);
      } else {
        malformed(ctx, "expected HELLO, got " + type);
      }
    } else if (m instanceof Hello) {
      malformed(ctx, "second HELLO");
    } else if (m instanceof FabricMessage.Heartbeat) {
      // lastReadNs is all it is for
    } else {
      deliver(ctx, m);
    }
  }

  private void onHello(ChannelHandlerContext ctx, Hello hello) {
    helloTimer.cancel(false);
    peerNode = hello.nodeName();
    if (hello.maxFrameBytes() > 0) peerMaxFrameBytes = hello.maxFrameBytes();
    decoder.allowFramesUpTo(maxFrameBytes);
    if (dispatcher) {
      auth.bindAgentNonce(hello.nonce());
      establish(ctx);
    } else {
      auth.bindDispatcherNonce(hello.nonce());
      establish(ctx); // before our HELLO: see Events#onEstablished
      ctx.writeAndFlush(auth.seal(ctx.alloc(), new Hello(localNode, localNonce, maxFrameBytes)));
      auth.bindAgentNonce(localNonce);
    }
    log.debug("fabric session with {} established", peer(ctx));
  }

  private void establish(ChannelHandlerContext ctx) {
    long periodNs = liveness.heartbeat().toNanos();
    heartbeatTimer =
        ctx.executor()
            .scheduleAtFixedRate(() -> beat(ctx), periodNs, periodNs, TimeUnit.NANOSECONDS);
    try {
      events.onEstablished(ctx.channel(), peerNode);
    } catch (RuntimeException e) {
      unexpected(ctx, e);
    }
  }

  private void deliver(ChannelHandlerContext ctx, FabricMessage m) {
    try {
      events.onMessage(ctx.channel(), peerNode, m);
    } catch (RuntimeException e) {
      log.warn("handling {} from {} failed; the connection stays up", m, peer(ctx), e);
    }
  }

  /** Declares the peer dead after its silence, or sends a HEARTBEAT if we were silent. */
  private void beat(ChannelHandlerContext ctx) {
    long now = now(ctx);
    long silentNs = now - lastReadNs;
    if (silentNs >= liveness.deadAfter().toNanos()) {
      if (refused) return;
      refused = true;
      counters.silentPeers.increment();
      log.warn(
          "closing fabric connection with {}: nothing received for {} ms (dead after {} ms)",
          peer(ctx),
          silentNs / 1_000_000,
          liveness.deadAfter().toMillis());
      ctx.close();
      return;
    }
    if (now - lastWriteNs >= liveness.heartbeat().toNanos() - liveness.heartbeat().toNanos() / 4) {
      // Through the whole pipeline, so that write() below seals it.
      ctx.channel().writeAndFlush(new FabricMessage.Heartbeat());
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof FabricMessage m)) {
      ctx.write(msg, promise);
      return;
    }
    MessageType type = MessageType.of(m);
    if (peerNode == null || refused) {
      promise.setFailure(
          new HandoffException(
              "cannot send "
                  + type
                  + " to "
                  + peer(ctx)
                  + ": the fabric session is "
                  + (refused ? "closing" : "not established")));
      return;
    }
    if (type == MessageType.HELLO || !type.mayBeSentBy(dispatcher)) {
      promise.setFailure(
          new HandoffException(
              "a " + (dispatcher ? "dispatcher" : "server agent") + " does not send " + type));
      return;
    }
    long frameBytes =
        FabricFrame.LENGTH_FIELD_BYTES
            + FabricFrame.bodyLength(FabricMessageCodec.payloadLength(m));
    if (frameBytes > maxFrameBytes) {
      promise.setFailure(
          new HandoffException(
              type
                  + " to "
                  + peer(ctx)
                  + " needs "
                  + frameBytes
                  + " bytes, more than the "
                  + maxFrameBytes
                  + "-byte frame limit"));
      return;
    }
    if (frameBytes > peerMaxFrameBytes) {
      promise.setFailure(
          new HandoffException(
              type
                  + " to "
                  + peer(ctx)
                  + " needs "
                  + frameBytes
                  + " bytes, more than the "
                  + peerMaxFrameBytes
                  + " bytes it accepts"));
      return;
    }
    ByteBuf frame;
    try {
      frame = auth.seal(ctx.alloc(), m);
    } catch (RuntimeException e) {
      promise.setFailure(e);
      return;
    }
    lastWriteNs = now(ctx);
    ctx.write(frame, promise);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof IOException) {
      log.debug("fabric connection with {} failed: {}", peer(ctx), cause.toString());
      ctx.close();
    } else {
      unexpected(ctx, cause);
    }
  }

  private void malformed(ChannelHandlerContext ctx, String reason) {
    if (refused) return;
    counters.malformedFrames.increment();
    refuse(ctx, "malformed frame: " + reason);
  }

  private void refuse(ChannelHandlerContext ctx, String what) {
    refused = true;
    log.warn("closing fabric connection with {}: {}", peer(ctx), what);
    ctx.close();
  }

  private void unexpected(ChannelHandlerContext ctx, Throwable e) {
    counters.unexpectedErrors.increment();
    log.warn("closing fabric connection with {} after an internal error", peer(ctx), e);
    refused = true;
    ctx.close();
  }

  private static long now(ChannelHandlerContext ctx) {
    return ctx.executor().ticker().nanoTime();
  }

  private String peer(ChannelHandlerContext ctx) {
    String address = FabricFrame.text(ctx.channel().remoteAddress());
    String role = peerRole();
    return peerNode == null ? role + " " + address : role + " " + peerNode + " at " + address;
  }

  private String peerRole() {
    return dispatcher ? "server agent" : "dispatcher";
  }
}
