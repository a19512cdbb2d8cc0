package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers restored connections to a Netty application in this JVM: the descriptor is adopted as an
 * {@link EpollSocketChannel} (which from then on owns and closes it) and registered with the group,
 * its pipeline set up by the application's initializer. The client's request bytes are already in
 * the kernel's receive queue, so the application simply reads them.
 *
 * <p>Pipeline order: a byte counter, the idle timeout ({@link IdleStateHandler} watching reads,
 * writes and the progress of queued output, then {@link IdleCloser}), then (only when there is an
 * unsent tail) a handler that writes the tail on {@code channelActive} before any application
 * handler sees the channel, then the application's initializer.
 *
 * <p>Channels allow half-closure: a client that sends its request and then FIN (it may have done so
 * before the move; the restored socket then reads end of stream after the request) must still get
 * its answer. The application sees the FIN as a {@link
 * io.netty.channel.socket.ChannelInputShutdownEvent} and closes when it has answered (the sample
 * application does); one that ignores it is closed by the idle timeout.
 *
 * <p>Thread-safe; the initializer must be {@link io.netty.channel.ChannelHandler.Sharable} (every
 * {@link ChannelInitializer} is).
 */
public final class EmbeddedDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedDelivery.class);

  private final EventLoopGroup epollGroup;
  private final ChannelInitializer<Channel> app;
  private final long idleTimeoutNs;
  private final LongAdder idleClosed = new LongAdder();
  private final IdleCloser idleCloser = new IdleCloser(idleClosed);
  private final OwedAck owedAck = new OwedAck();
  private final java.util.function.Function<io.baton.transplant.FlowKey, RerouteGate> gates;

  /**
   * @param epollGroup a group of epoll event loops
   * @param app sets up each connection's pipeline
   * @param idleTimeout a connection with no traffic in either direction for this long is closed
   */
  public EmbeddedDelivery(
      EventLoopGroup epollGroup, ChannelInitializer<Channel> app, Duration idleTimeout) {
    this(epollGroup, app, idleTimeout, null);
  }

  /**
   * @param gates makes each connection's {@link RerouteGate} (per-request routing), or null for
   *     none
   */
  public EmbeddedDelivery(
      EventLoopGroup epollGroup,
      ChannelInitializer<Channel> app,
      Duration idleTimeout,
      java.util.function.Function<io.baton.transplant.FlowKey, RerouteGate> gates) {
    this.gates = gates;
    this.epollGroup = Objects.requireNonNull(epollGroup, "epollGroup");
    this.app = Objects.requireNonNull(app, "app");
    this.idleTimeoutNs = RelayDelivery.positiveNanos(idleTimeout, "idle timeout");
  }

  @Override
  public long idleTimeouts() {
    return idleClosed.sum();
  }

  @Override
  public long owedAcksSent() {
    return owedAck.sent();
  }

  @Override
  public void deliver(
      int fd,
      byte[] unsentTail,
      ConnectionInfo info,
      CloseListener onClosed,
      java.util.function.Consumer<Movable> onMovable) {
    CloseListener once = new CloseOnce(onClosed, info);
    EpollSocketChannel channel;
    try {
      // Netty expects a non-blocking descriptor and does not set the flag itself.
      Sockets.setNonBlocking(fd, true);
      channel = new EpollSocketChannel(fd);
    } catch (LinuxException | RuntimeException e) {
      log.warn("could not adopt {} (fd {}): {}; closing it", info, fd, e.getMessage());
      Sockets.closeQuietly(fd);
      once.onClosed(0, 0);
      return;
    }
    channel.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    channel.pipeline().addLast("baton-keep-epoll", io.baton.netty.KeepEpollRegistered.INSTANCE);
    ByteCounter counter = new ByteCounter();
    channel.pipeline().addLast("baton-bytes", counter);
    if (gates != null) channel.pipeline().addLast("baton-reroute", gates.apply(info.flow()));
    // observeOutput: a large answer draining slowly to the client is traffic, not idleness.
    channel
        .pipeline()
        .addLast(
            "baton-idle", new IdleStateHandler(true, 0, 0, idleTimeoutNs, TimeUnit.NANOSECONDS));
    channel.pipeline().addLast("baton-idle-close", idleCloser);
    if (unsentTail.length > 0) {
      channel.pipeline().addLast("baton-unsent-tail", new UnsentTailWriter(unsentTail.clone()));
    }
    if (info.appState().length > 0) {
      channel.pipeline().addLast("baton-migrated-in", new MigratedInAnnouncer(info.appState()));
    }
    channel.pipeline().addLast("app", app);
    channel
        .closeFuture()
        .addListener(f -> once.onClosed(counter.bytesRead(), counter.bytesWritten()));
    // A failed registration closes the channel, which completes closeFuture above.
    // Before the registration: once registered, the application may read (and a per-request gate
    // move) the connection at once.
    onMovable.accept(new ChannelMovable(channel, fd, counter));
    epollGroup
        .register(channel)
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                log.warn("could not register {}: {}; closed it", info, String.valueOf(f.cause()));
              } else if (info.ackOwed() && unsentTail.length == 0) {
                // On the channel's loop, which alone closes the descriptor: open means still ours.
                channel
                    .eventLoop()
                    .schedule(
                        () -> {
                          if (channel.isOpen()) owedAck.sendIfSilent(fd, info.owedAck(), info);
                        },
                        OwedAck.DELAY_NS,
                        TimeUnit.NANOSECONDS);
              }
            });
  }

  @Override
  public String toString() {
    return "EmbeddedDelivery[" + app.getClass().getName() + "]";
  }
}
