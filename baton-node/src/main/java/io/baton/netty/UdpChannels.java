package io.baton.netty;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import java.io.IOException;
import java.net.InetSocketAddress;

/** The UDP sockets roles bind on a VIP (the dispatcher's flow listener, the server's echo). */
public final class UdpChannels {
  private UdpChannels() {}

  /**
   * A datagram channel of {@code address}'s family bound to it on one loop of {@code group},
   * transparent (a server's VIP sits on lo behind a guard; a dispatcher may also serve) and with
   * address reuse; {@code receiveBuffer} bytes of SO_RCVBUF, or the kernel's default when 0. An
   * IPv4 VIP gets an AF_INET socket: a dual-stack one would report v4-mapped senders. Fails with a
   * message naming {@code what} and the address.
   */
  public static Channel bind(
      EventLoopGroup group,
      InetSocketAddress address,
      ChannelHandler handler,
      int receiveBuffer,
      String what)
      throws IOException {
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channelFactory(
                () ->
                    new EpollDatagramChannel(
                        address.getAddress() instanceof java.net.Inet6Address
                            ? SocketProtocolFamily.INET6
                            : SocketProtocolFamily.INET))
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(EpollChannelOption.IP_TRANSPARENT, true)
            .handler(handler);
    if (receiveBuffer > 0) b.option(ChannelOption.SO_RCVBUF, receiveBuffer);
    try {
      return b.bind(address).sync().channel();
    } catch (Exception e) {
      throw new IOException(
          "cannot bind " + what + " on " + address + " (udp): " + e.getMessage(), e);
    }
  }
}
