package io.baton.gateway.wan;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * Applies {@link WanParameters} to one trunk connection. Buffers must be set before connect (the
 * window scale is fixed by the SYN), and so is the DSCP mark (the SYN carries it), so dialers call
 * {@link #beforeConnect} on the bootstrap's options and {@link #apply} once the socket exists;
 * acceptors call {@link #apply} on the HELLO.
 *
 * <p>Stateless.
 */
public final class WanSocketTuning {
  // linux/tcp.h
  private static final int TCP_CONGESTION = 13;
  private static final int TCP_USER_TIMEOUT = 18;
  // asm-generic/socket.h
  private static final int SO_MAX_PACING_RATE = 47;

  /** Unacknowledged data older than this fails a WAN connection (and its trunk). */
  public static final int USER_TIMEOUT_MS = 10_000;

  private WanSocketTuning() {}

  /** Sets congestion control, pacing, DSCP, buffers and the user timeout on {@code channel}. */
  public static void apply(Channel channel, WanParameters params) throws LinuxException {
    int fd = ((EpollSocketChannel) channel).fd().intValue();
    try (Arena arena = Arena.ofConfined()) {
      byte[] name = params.congestionControl().getBytes(StandardCharsets.US_ASCII);
      MemorySegment value = arena.allocate(name.length + 1);
      MemorySegment.copy(name, 0, value, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, name.length);
      Sockets.setBytes(
          fd,
          Sockets.IPPROTO_TCP,
          TCP_CONGESTION,
          value.asSlice(0, name.length),
          "TCP_CONGESTION=" + params.congestionControl());
    }
    if (params.pacingPerConnection() > 0) {
      Sockets.setInt(
          fd,
          Sockets.SOL_SOCKET,
          SO_MAX_PACING_RATE,
          (int) Math.min(Integer.MAX_VALUE - 1, params.pacingPerConnection()),
          "SO_MAX_PACING_RATE");
    }
    Sockets.setInt(fd, Sockets.IPPROTO_TCP, TCP_USER_TIMEOUT, USER_TIMEOUT_MS, "TCP_USER_TIMEOUT");
    channel.config().setOption(ChannelOption.IP_TOS, params.dscp() << 2);
    if (params.sendBufferBytes() > 0)
      channel.config().setOption(ChannelOption.SO_SNDBUF, params.sendBufferBytes());
    if (params.receiveBufferBytes() > 0)
      channel.config().setOption(ChannelOption.SO_RCVBUF, params.receiveBufferBytes());
  }

  /** Options a dialer's bootstrap sets before connect (buffers decide the window scale). */
  public static io.netty.bootstrap.Bootstrap beforeConnect(
      io.netty.bootstrap.Bootstrap b, WanParameters params) {
    // The DSCP mark too, so that the SYN carries the class like every later packet.
    b.option(ChannelOption.TCP_NODELAY, true)
        .option(EpollChannelOption.TCP_QUICKACK, true)
        .option(ChannelOption.IP_TOS, params.dscp() << 2);
    if (params.sendBufferBytes() > 0) b.option(ChannelOption.SO_SNDBUF, params.sendBufferBytes());
    if (params.receiveBufferBytes() > 0)
      b.option(ChannelOption.SO_RCVBUF, params.receiveBufferBytes());
    return b;
  }
}
