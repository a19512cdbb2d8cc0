package io.baton.server;

import io.baton.dataplane.Vip;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Peer mode: when a dispatcher picks its own node, the connection is served here without a handoff.
 * The dispatcher's Netty channel is kept; the bytes it already read are fed to the application
 * first. Embedded apps get the channel's pipeline; relays get a bridge to the upstream on the same
 * event loop (bytes copied through the JVM; handed-off connections use the zero-copy relay
 * instead).
 *
 * <p>Thread-safe; each connection is confined to its channel's event loop.
 */
final class PeerDelivery implements LocalDelivery {
  private static final Logger log = LoggerFactory.getLogger(PeerDelivery.class);

  /** What serves one VIP port locally. */
  sealed interface Target permits Embedded, Relay {}

  record Embedded(ChannelInitializer<Channel> app) implements Target {}

  record Relay(InetSocketAddress upstream) implements Target {}

  private final Map<String, Target> targets;
  private final AtomicInteger active;
  private final int maxConnections;

  /**
   * Who else hears of locally served connections (the sync plane: other dispatchers forward them
   * here).
   */
  volatile OwnershipListener ownership = OwnershipListener.NONE;

  /** When the kernel is done with a closed connection (see {@link KernelRelease}). */
  volatile KernelRelease release = KernelRelease.IMMEDIATE;

  /**
   * Tokens of locally served connections, in the handoff ids' space (ms since the epoch, shifted).
   */
  private final Map<io.baton.transplant.FlowKey, Long> localOpen =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final java.util.concurrent.atomic.AtomicLong localIds =
      new java.util.concurrent.atomic.AtomicLong(System.currentTimeMillis() << 20);

  PeerDelivery(Map<String, Target> targets, AtomicInteger active, int maxConnections) {
    this.targets = Map.copyOf(targets);
    this.active = active;
    this.maxConnections = maxConnections;
  }

  /** The connections served here now, with their tokens. */
  java.util.List<io.baton.handoff.FabricMessage.Owned> localOwned() {
    java.util.List<io.baton.handoff.FabricMessage.Owned> out = new java.util.ArrayList<>();
    localOpen.forEach(
        (flow, token) -> out.add(new io.baton.handoff.FabricMessage.Owned(flow, token)));
    return out;
  }

  @Override
  public boolean serve(Channel ch, byte[] consumed, Vip vip) {
    Target target = targets.get(vip.toString());
    if (target == null) return false;
    // The same limit as for handed-off connections: they share this node's capacity.
    if (active.incrementAndGet() > maxConnections) {
      active.decrementAndGet();
      log.info("not serving {} locally: at the limit of {} connections", vip, maxConnections);
      return false;
    }
    io.baton.transplant.FlowKey flow =
        io.baton.transplant.FlowKey.of(
            (InetSocketAddress) ch.remoteAddress(), (InetSocketAddress) ch.localAddress());
    long token = localIds.incrementAndGet();
    OwnershipListener listener = ownership;
    localOpen.put(flow, token);
    listener.opened(flow, token);
    ch.closeFuture()
        .addListener(
            f -> {
              active.decrementAndGet();
              // The other peers forward its client's packets here until the kernel is done.
              release.afterRelease(
                  flow,
                  () -> {
                    localOpen.remove(flow, token);
                    listener.closed(flow, token);
                  });
            });
    // Served here, the client's FIN may come later (see KeepEpollRegistered).
    ch.pipeline().addFirst(io.baton.netty.KeepEpollRegistered.INSTANCE);
    switch (target) {
      case Embedded e -> {
        ch.pipeline().addLast(e.app());
        ch.config().setAutoRead(true);
        if (consumed.length > 0) ch.pipeline().fireChannelRead(Unpooled.wrappedBuffer(consumed));
        ch.pipeline().fireChannelReadComplete();
        ch.read();
      }
      case Relay r -> relay(ch, consumed, r.upstream());
    }
    return true;
  }

  private static void relay(Channel client, byte[] consumed, InetSocketAddress upstream) {
    client.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    ChannelFuture connect =
        new Bootstrap()
            .group(client.eventLoop())
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
            .option(ChannelOption.AUTO_READ, false)
            .handler(new Pipe(client))
            .connect(upstream);
    connect.addListener(
        (ChannelFutureListener)
            f -> {
              if (!f.isSuccess()) {
                log.warn("peer relay to {} failed: {}", upstream, f.cause().toString());
                client.close();
                return;
              }
              Channel server = f.channel();
              client.pipeline().addLast(new Pipe(server));
              server
                  .writeAndFlush(Unpooled.wrappedBuffer(consumed))
                  .addListener(
                      w -> {
                        client.config().setAutoRead(true);
                        server.config().setAutoRead(true);
                        client.read();
                        server.read();
                      });
            });
  }

  /** Copies what one side reads to the other, with backpressure and half-close. */
  private static final class Pipe extends ChannelInboundHandlerAdapter {
    private final Channel peer;

    Pipe(Channel peer) {
      this.peer = peer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      peer.writeAndFlush(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess()) {
                      ctx.close();
                      peer.close();
                    }
                  });
      if (!peer.isWritable()) ctx.channel().config().setAutoRead(false);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      // Our own channel drained: let the peer read again.
      if (ctx.channel().isWritable()) peer.config().setAutoRead(true);
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent && peer instanceof DuplexChannel duplex) {
        duplex.shutdownOutput().addListener(f -> closeIfBothDone(ctx.channel()));
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      peer.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
      peer.close();
    }

    private void closeIfBothDone(Channel self) {
      if (self instanceof DuplexChannel a
          && peer instanceof DuplexChannel b
          && a.isInputShutdown()
          && b.isInputShutdown()) {
        self.close();
        peer.close();
      }
    }
  }
}
