package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers restored connections to a Netty application in this JVM: the descriptor is adopted
 * as an {@link EpollSocketChannel} (which from then on owns and closes it) and registered with
 * the group, its pipeline set up by the application's initializer. The client's request bytes
 * are already in the kernel's receive queue, so the application simply reads them.
 *
 * <p>Pipeline order: a byte counter, then (only when there is an unsent tail) a handler that
 * writes the tail on {@code channelActive} before any application handler sees the channel,
 * then the application's initializer.
 *
 * <p>Thread-safe; the initializer must be {@link io.netty.channel.ChannelHandler.Sharable} (every
 * {@link ChannelInitializer} is).
 */
public final class EmbeddedDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedDelivery.class);

  private final EventLoopGroup epollGroup;
  private final ChannelInitializer<Channel> app;

  public EmbeddedDelivery(EventLoopGroup epollGroup, ChannelInitializer<Channel> app) {
    this.epollGroup = Objects.requireNonNull(epollGroup, "epollGroup");
    this.app = Objects.requireNonNull(app, "app");
  }

  @Override
  public void deliver(int fd, byte[] unsentTail, ConnectionInfo info, CloseListener onClosed) {
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
    ByteCounter counter = new ByteCounter();
    channel.pipeline().addLast("baton-bytes", counter);
    if (unsentTail.length > 0) {
      channel.pipeline().addLast("baton-unsent-tail", new UnsentTailWriter(unsentTail.clone()));
    }
    channel.pipeline().addLast("app", app);
    channel.closeFuture().addListener(f -> once.onClosed(counter.bytesRead(), counter.bytesWritten()));
    // A failed registration closes the channel, which completes closeFuture above.
    epollGroup.register(channel).addListener(f -> {
      if (!f.isSuccess()) {
        log.warn("could not register {}: {}; closed it", info, String.valueOf(f.cause()));
      }
    });
  }

  @Override
  public String toString() {
    return "EmbeddedDelivery[" + app.getClass().getName() + "]";
  }
}
