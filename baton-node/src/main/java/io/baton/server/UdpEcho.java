package io.baton.server;

import io.baton.dataplane.Vip;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
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
    return io.baton.netty.UdpChannels.bind(
        group, new InetSocketAddress(vip.address(), vip.port()), new UdpEcho(), 0, "the UDP echo");
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
