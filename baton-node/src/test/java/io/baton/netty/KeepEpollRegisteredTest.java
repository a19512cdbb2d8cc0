package io.baton.netty;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A half-closed connection (the client's FIN after its request) answered in several writes, each
 * started once the last is written and each larger than the socket buffer: between two writes the
 * channel's epoll interest is empty, which Netty 4.2.18-4.2.20 turns into a lost registration and a
 * cut-short answer. With {@link KeepEpollRegistered} first in the pipeline every byte arrives.
 */
class KeepEpollRegisteredTest {
  private static final int CHUNK = 1 << 20;
  private static final int CHUNKS = 8;
  private static EventLoopGroup group;

  @BeforeAll
  static void start() {
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
  }

  @AfterAll
  static void stop() {
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void halfClosedConnectionGetsEveryChunk() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    assertThat(download(true, failure)).isEqualTo((long) CHUNK * CHUNKS);
    assertThat(failure.get()).isNull();
  }

  /**
   * Documents the bug this works around: when this fails, Netty fixed it and the workaround can go.
   */
  @Test
  void withoutItNettyCutsTheAnswerShort() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    assertThat(download(false, failure)).isLessThan((long) CHUNK * CHUNKS);
    assertThat(failure.get())
        .hasRootCauseMessage("epoll_ctl(..) failed with error(-2): No such file or directory");
  }

  private static long download(boolean workaround, AtomicReference<Throwable> failure)
      throws Exception {
    Channel server =
        new ServerBootstrap()
            .group(group)
            .channel(EpollServerSocketChannel.class)
            .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
            // 16 KiB (32 KiB in the kernel): Netty's 16 write attempts per flush cannot take a 1
            // MiB chunk,
            // so every chunk waits for EPOLLOUT.
            .childOption(ChannelOption.SO_SNDBUF, 16 * 1024)
            .childHandler(
                new ChannelInitializer<>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    if (workaround) ch.pipeline().addLast(KeepEpollRegistered.INSTANCE);
                    ch.pipeline().addLast(new ChunkedAnswer(failure));
                  }
                })
            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .syncUninterruptibly()
            .channel();
    try (Socket client = new Socket()) {
      client.connect(server.localAddress(), 5_000);
      client.setSoTimeout(10_000);
      client.getOutputStream().write('?');
      client.shutdownOutput();
      InputStream in = client.getInputStream();
      byte[] buf = new byte[64 * 1024];
      long total = 0;
      for (int n; (n = in.read(buf)) >= 0; ) total += n;
      return total;
    } finally {
      server.close().syncUninterruptibly();
    }
  }

  /**
   * On the client's FIN: {@link #CHUNKS} writes of {@link #CHUNK}, each once the last is written,
   * then close.
   */
  private static final class ChunkedAnswer extends ChannelInboundHandlerAdapter {
    private final AtomicReference<Throwable> failure;
    private int sent;

    ChunkedAnswer(AtomicReference<Throwable> failure) {
      this.failure = failure;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      io.netty.util.ReferenceCountUtil.release(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) next(ctx);
    }

    private void next(ChannelHandlerContext ctx) {
      if (sent == CHUNKS) {
        ctx.close();
        return;
      }
      sent++;
      ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[CHUNK]))
          .addListener(
              (ChannelFuture f) -> {
                if (f.isSuccess()) {
                  // From a later task, as an application's next write often is: by then the flush
                  // is over
                  // and EPOLLOUT cleared.
                  ctx.executor().execute(() -> next(ctx));
                } else {
                  failure.compareAndSet(null, f.cause());
                  ctx.close();
                }
              });
    }
  }
}
