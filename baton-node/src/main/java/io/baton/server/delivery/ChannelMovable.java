package io.baton.server.delivery;

import io.baton.migration.Migratable;
import io.baton.migration.SafePoint;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;

/**
 * An embedded application's connection as a live migration moves it: the safe point is the
 * application's {@link Migratable} handler; without one the connection does not move.
 */
final class ChannelMovable implements Movable {
  private final Channel channel;
  private final int fd;

  ChannelMovable(Channel channel, int fd) {
    this.channel = channel;
    this.fd = fd;
  }

  @Override
  public EventExecutor loop() {
    return channel.eventLoop();
  }

  @Override
  public int fd() {
    return fd;
  }

  @Override
  public boolean isOpen() {
    return channel.isOpen();
  }

  @Override
  public void suspend(Promise<SafePoint> point) {
    Migratable app = channel.pipeline().get(Migratable.class);
    if (app == null) {
      point.tryFailure(new IllegalStateException("the application on this connection has no safe point (no "
          + Migratable.class.getName() + " handler in its pipeline)"));
    } else if (!channel.isOpen()) {
      point.tryFailure(new IllegalStateException("the connection is closed"));
    } else {
      app.suspend(point);
    }
  }

  @Override
  public void resume() {
    Migratable app = channel.pipeline().get(Migratable.class);
    if (app != null) app.resume();
  }

  @Override
  public void close() {
    channel.close();
  }

  @Override
  public void reset() {
    channel.config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
    channel.close();
  }
}
