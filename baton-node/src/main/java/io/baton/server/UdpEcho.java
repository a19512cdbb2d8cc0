package io.baton.server;

import io.baton.dataplane.Vip;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.SocketProtocolFamily;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The sample UDP service ({@code udp: echo}): answers each datagram to the VIP with the same bytes,
 * from the VIP, straight to the client (direct server return). Prefixes nothing, so a client can
 * compare what it sent with what came back; the server is told by the metrics, not the payload.
 */
final class UdpEcho extends SimpleChannelInboundHandler<DatagramPacket> {
  private UdpEcho() {}

  static Channel bind(EventLoopGroup group, Vip vip) throws IOException {
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channelFactory(() -> new EpollDatagramChannel(SocketProtocolFamily.INET))
            .option(ChannelOption.SO_REUSEADDR, true)
            // The VIP is on lo; transparent also lets the echo start before the host is prepared.
            .option(EpollChannelOption.IP_TRANSPARENT, true)
            .handler(new UdpEcho());
    try {
      return b.bind(new InetSocketAddress(vip.address(), vip.port())).sync().channel();
    } catch (Exception e) {
      throw new IOException("cannot bind the UDP echo on " + vip + ": " + e.getMessage(), e);
    }
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
    ctx.writeAndFlush(new DatagramPacket(packet.content().retain(), packet.sender()));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // One client's unreachable port (ICMP) must not stop the echo for the others.
  }
}
