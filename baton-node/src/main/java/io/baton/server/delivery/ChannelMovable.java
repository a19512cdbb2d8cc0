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
  private boolean forced;

  private final ByteCounter counter;

  ChannelMovable(Channel channel, int fd, ByteCounter counter) {
    this.channel = channel;
    this.fd = fd;
    this.counter = counter;
  }

  @Override
  public long bytesIn() {
    return counter.bytesRead();
  }

  @Override
  public long bytesOut() {
    return counter.bytesWritten();
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
      point.tryFailure(
          new IllegalStateException(
              "the application on this connection has no safe point (no "
                  + Migratable.class.getName()
                  + " handler in its pipeline)"));
    } else if (!channel.isOpen()) {
      point.tryFailure(new IllegalStateException("the connection is closed"));
    } else {
      RerouteGate gate = channel.pipeline().get(RerouteGate.class);
      if (gate == null) {
        app.suspend(point);
        return;
      }
      // The request the gate stopped follows what the application read but did not consume.
      io.netty.util.concurrent.Promise<SafePoint> inner = channel.eventLoop().newPromise();
      inner.addListener(
          f -> {
            if (!f.isSuccess()) {
              point.tryFailure(f.cause());
              return;
            }
            SafePoint p = inner.getNow();
            byte[] gated = gate.held();
            byte[] unread = java.util.Arrays.copyOf(p.unread(), p.unread().length + gated.length);
            System.arraycopy(gated, 0, unread, p.unread().length, gated.length);
            if (!point.trySuccess(new SafePoint(p.appState(), unread))) app.resume();
          });
      point.addListener(
          f -> {
            if (f.isCancelled() || !f.isSuccess())
              inner.tryFailure(
                  f.cause() != null ? f.cause() : new IllegalStateException("gave up"));
          });
      app.suspend(inner);
    }
  }

  @Override
  public void forceSuspend(Promise<SafePoint> point) {
    if (channel.pipeline().get(Migratable.class) != null) {
      suspend(point);
      return;
    }
    if (!channel.isOpen()) {
      point.tryFailure(new IllegalStateException("the connection is closed"));
      return;
    }
    forced = true;
    channel.config().setAutoRead(false);
    // Completes once everything written before it has gone to the socket.
    channel
        .writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                point.tryFailure(
                    new IllegalStateException(
                        "the connection failed while stopping: " + f.cause()));
              } else if (!point.trySuccess(SafePoint.EMPTY)) {
                resume();
              }
            });
  }

  @Override
  public void resume() {
    if (forced) {
      forced = false;
      channel.config().setAutoRead(true);
      return;
    }
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
