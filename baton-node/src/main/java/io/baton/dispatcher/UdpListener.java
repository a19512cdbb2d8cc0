package io.baton.dispatcher;

import io.baton.dataplane.Vip;
import io.baton.routing.Pool;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.function.Supplier;

/**
 * The dispatcher's socket on a {@code mode: udp} VIP: it receives the first datagram of each flow
 * (later ones are forwarded by the kernel) and gives it to {@link UdpFlows}. One channel per VIP,
 * on one event loop.
 */
final class UdpListener extends SimpleChannelInboundHandler<DatagramPacket> {
  private final Vip vip;
  private final Supplier<Pool> pool;
  private final UdpFlows flows;

  private UdpListener(Vip vip, Supplier<Pool> pool, UdpFlows flows) {
    this.vip = vip;
    this.pool = pool;
    this.flows = flows;
  }

  /** Binds {@code vip} (UDP) and passes each datagram to {@code flows} for {@code pool}. */
  static Channel bind(EventLoopGroup group, Vip vip, Supplier<Pool> pool, UdpFlows flows)
      throws IOException {
    return io.baton.netty.UdpChannels.bind(
        group,
        new InetSocketAddress(vip.address(), vip.port()),
        new UdpListener(vip, pool, flows),
        4 << 20,
        "the dispatcher's socket of UDP VIP " + vip + " (is the VIP on the front interface?)");
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
    InetSocketAddress sender = packet.sender();
    java.net.InetAddress client = sender.getAddress();
    Pool p = pool.get();
    if (p == null) {
      flows.stats().unavailable.increment();
      return;
    }
    flows.datagram(
        new UdpFlows.Flow(client, sender.getPort(), vip),
        p,
        ByteBufUtil.getBytes(packet.content()));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A datagram socket's errors (ICMP of an earlier send, say) concern no flow: keep listening.
    org.slf4j.LoggerFactory.getLogger(UdpListener.class)
        .debug("udp VIP {}: {}", vip, cause.toString());
  }
}
