package io.baton.netty;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The race {@link LoopBarrier} closes, on a real listener: connections accepted before the listener
 * closed, registered on a loop of its child group that is busy, are invisible to their handlers
 * after the close, and visible once the barrier has passed.
 */
class LoopBarrierTest {
  private EventLoopGroup listening;
  private EventLoopGroup connections;

  @BeforeEach
  void start() {
    listening = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    connections = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
  }

  @AfterEach
  void stop() {
    listening.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    connections.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void countsEveryConnectionAcceptedBeforeTheListenerClosed() throws Exception {
    AtomicInteger accepted = new AtomicInteger();
    AtomicInteger active = new AtomicInteger();
    Channel listener =
        new ServerBootstrap()
            .group(listening, connections)
            .channel(EpollServerSocketChannel.class)
            .handler(
                new ChannelInboundHandlerAdapter() {
                  @Override
                  public void channelRead(ChannelHandlerContext ctx, Object child) {
                    accepted.incrementAndGet();
                    ctx.fireChannelRead(child);
                  }
                })
            .childHandler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    ch.pipeline()
                        .addLast(
                            new ChannelInboundHandlerAdapter() {
                              @Override
                              public void channelActive(ChannelHandlerContext ctx) {
                                active.incrementAndGet();
                              }
                            });
                  }
                })
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .syncUninterruptibly()
            .channel();
    // One loop of the connections' group is busy until released.
    EventLoop busy = connections.next();
    CountDownLatch release = new CountDownLatch(1);
    busy.execute(
        () -> {
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    int port = ((InetSocketAddress) listener.localAddress()).getPort();
    List<Socket> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        clients.add(new Socket(InetAddress.getLoopbackAddress(), port));
      }
      await(() -> accepted.get() == 4, "the listener to accept four connections");
      listener.close().syncUninterruptibly();
      // Those given to the busy loop (round robin: half) are registered only when it is free.
      assertThat(active.get()).as("connections their handlers have seen").isLessThan(4);

      CompletableFuture<Boolean> passed =
          CompletableFuture.supplyAsync(
              () -> LoopBarrier.await(connections, Duration.ofSeconds(20)));
      assertThat(passed).as("the barrier while a loop is busy").isNotDone();
      release.countDown();
      assertThat(passed.get(20, TimeUnit.SECONDS)).isTrue();
      assertThat(active.get()).as("connections seen after the barrier").isEqualTo(4);
    } finally {
      release.countDown();
      for (Socket s : clients) s.close();
    }
  }

  @Test
  void givesUpAtItsLimitOnALoopThatStaysBusy() throws Exception {
    Channel listener =
        new ServerBootstrap()
            .group(listening, connections)
            .channel(EpollServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {}
                })
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .syncUninterruptibly()
            .channel();
    CountDownLatch release = new CountDownLatch(1);
    connections
        .next()
        .execute(
            () -> {
              try {
                release.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    try {
      assertThat(LoopBarrier.await(connections, Duration.ofMillis(200))).isFalse();
    } finally {
      release.countDown();
      listener.close().syncUninterruptibly();
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(5); // polling a deadline-bounded condition
    }
  }
}
