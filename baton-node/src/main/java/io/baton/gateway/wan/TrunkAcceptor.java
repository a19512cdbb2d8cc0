package io.baton.gateway.wan;

import io.baton.linux.LinuxException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The far side of trunks: the child handler of the gateway's tunnel listener. The first frame of
 * every connection must be a HELLO sealed with the tunnel key and fresh; anything else closes the
 * connection before a stream frame is read. Connections with the same trunk id join one {@link
 * Trunk}, tuned with the parameters their HELLO carries.
 *
 * <p>The trunk map is confined to the gateway's event loop (one loop serves every trunk).
 */
public final class TrunkAcceptor extends ChannelInitializer<Channel> {
  private static final Logger LOG = LoggerFactory.getLogger(TrunkAcceptor.class);

  private final TrunkHello hello;
  private final Trunk.StreamOpener opener;
  private final Clock clock;
  private final TrunkCounters counters;
  private final Map<String, Trunk> trunks = new HashMap<>();

  public TrunkAcceptor(
      TrunkHello hello, Trunk.StreamOpener opener, Clock clock, TrunkCounters counters) {
    this.counters = counters;
    this.hello = hello;
    this.opener = opener;
    this.clock = clock;
  }

  /** The trunks now served; call on the event loop. */
  public List<Trunk> trunks() {
    return new ArrayList<>(trunks.values());
  }

  @Override
  protected void initChannel(Channel ch) {
    ch.pipeline()
        .addLast("idle", new IdleStateHandler(Trunk.DEAD_AFTER_MS, 0, 0, TimeUnit.MILLISECONDS));
    ch.pipeline().addLast("codec", new TrunkFrameCodec());
    ch.pipeline().addLast("hello", new HelloGate());
  }

  private final class HelloGate extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Channel ch = ctx.channel();
      if (!(msg instanceof TrunkFrame.Hello h)) {
        if (msg instanceof TrunkFrame.Data d) d.payload().release();
        refuse(ch, "first frame is not a HELLO");
        return;
      }
      String problem = hello.problem(h, clock.millis());
      if (problem != null) {
        refuse(ch, "HELLO refused: " + problem);
        return;
      }
      String key = HexFormat.of().formatHex(h.trunkId());
      InetSocketAddress from = (InetSocketAddress) ch.remoteAddress();
      Trunk trunk = trunks.get(key);
      if (trunk == null) {
        trunk =
            new Trunk(
                h.trunkId(),
                false,
                h.params(),
                ch.eventLoop(),
                from.getAddress().getHostAddress(),
                opener,
                t -> trunks.remove(key),
                counters);
        trunks.put(key, trunk);
        LOG.info("trunk {} from {}: {}", trunk.idText(), from, h.params());
      } else if (!trunk.params().equals(h.params())) {
        refuse(ch, "HELLO with other parameters than its trunk's");
        return;
      }
      try {
        WanSocketTuning.apply(ch, h.params());
      } catch (LinuxException e) {
        refuse(ch, "cannot tune the connection: " + e.getMessage());
        trunk.fail("tuning failed: " + e.getMessage());
        return;
      }
      ctx.pipeline().replace(this, "trunk", new TrunkConnectionHandler(trunk, h.index()));
      trunk.connectionUp(h.index(), ch);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent)
        refuse(ctx.channel(), "no HELLO within " + Trunk.DEAD_AFTER_MS + " ms");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      refuse(ctx.channel(), "before its HELLO: " + cause.getMessage());
    }

    private void refuse(Channel ch, String why) {
      counters.hellosRefused.increment();
      LOG.warn("tunnel connection from {} closed: {}", ch.remoteAddress(), why);
      ch.close();
    }
  }
}
