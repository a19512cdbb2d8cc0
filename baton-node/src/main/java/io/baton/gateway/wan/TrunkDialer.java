package io.baton.gateway.wan;

import io.baton.linux.LinuxException;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Dials trunks to peer gateways: opens the {@code params.connections()} connections at once from
 * the gateway's WAN address, tunes each ({@link WanSocketTuning}) and sends its sealed HELLO.
 * Streams may be opened on the returned trunk at once; their frames wait for the first connection.
 *
 * <p>Confined to its event loop.
 */
public final class TrunkDialer {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final EventLoop loop;
  private final TrunkHello hello;
  private final InetAddress localAddress;
  private final Clock clock;
  private final TrunkCounters counters;

  public TrunkDialer(
      EventLoop loop,
      TrunkHello hello,
      InetAddress localAddress,
      Clock clock,
      TrunkCounters counters) {
    this.counters = counters;
    this.loop = loop;
    this.hello = hello;
    this.localAddress = localAddress;
    this.clock = clock;
  }

  public Trunk dial(InetSocketAddress peer, WanParameters params, Consumer<Trunk> onClosed) {
    byte[] id = new byte[TrunkFrameCodec.TRUNK_ID_BYTES];
    RANDOM.nextBytes(id);
    Trunk trunk =
        new Trunk(
            id,
            true,
            params,
            loop,
            peer.getAddress().getHostAddress() + ":" + peer.getPort(),
            (stream, destination, client) ->
                stream.abort("this gateway does not serve streams", true),
            onClosed,
            counters);
    for (int i = 0; i < params.connections(); i++) {
      int index = i;
      Bootstrap b =
          new Bootstrap()
              .group(loop)
              .channelFactory(() -> new EpollSocketChannel(SocketProtocolFamily.INET))
              .handler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      ch.pipeline()
                          .addLast(
                              new IdleStateHandler(
                                  Trunk.DEAD_AFTER_MS, 0, 0, TimeUnit.MILLISECONDS));
                      ch.pipeline().addLast(new TrunkFrameCodec());
                      ch.pipeline().addLast(new TrunkConnectionHandler(trunk, index));
                    }
                  });
      WanSocketTuning.beforeConnect(b, params);
      b.connect(peer, new InetSocketAddress(localAddress, 0))
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess()) {
                      trunk.fail(
                          "connecting to peer gateway "
                              + trunk.peer()
                              + " failed: "
                              + f.cause().getMessage());
                      return;
                    }
                    Channel ch = f.channel();
                    try {
                      WanSocketTuning.apply(ch, params);
                    } catch (LinuxException e) {
                      trunk.fail(
                          "tuning the connection to "
                              + trunk.peer()
                              + " failed: "
                              + e.getMessage());
                      ch.close();
                      return;
                    }
                    ch.writeAndFlush(
                        hello.seal(id, index, params, clock.millis()), ch.voidPromise());
                    trunk.connectionUp(index, ch);
                  });
    }
    return trunk;
  }
}
