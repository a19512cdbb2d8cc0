package io.baton.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Shared pieces for the loopback tests: an epoll group, addresses, bounded waits. */
final class LoopbackFabric {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);

  private LoopbackFabric() {}

  static EventLoopGroup newGroup() {
    Epoll.ensureAvailability();
    return new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
  }

  static void shutdown(EventLoopGroup group) {
    if (group != null) group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }

  static InetSocketAddress loopback(int port) {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
  }

  static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  /** The {@link HandoffException} {@code f} fails with, within {@link #WAIT}. */
  static HandoffException failure(CompletableFuture<?> f) throws InterruptedException {
    try {
      Object value = f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      throw new AssertionError("expected a failure, got " + value);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(HandoffException.class);
      return (HandoffException) e.getCause();
    } catch (TimeoutException e) {
      throw new AssertionError("future neither failed nor completed within " + WAIT, e);
    }
  }
}
