package io.baton.netty;

import io.netty.channel.unix.IntegerUnixChannelOption;
import java.io.IOException;
import java.net.NetworkInterface;
import java.net.SocketException;

/**
 * A socket bound to one network interface ({@code SO_BINDTOIFINDEX}, Linux 5.0+): the kernel's
 * socket lookup then matches it only for packets that arrived on that interface.
 *
 * <p>Why: a peer-mode node is a dispatcher and a server at once. Its VIP listener would otherwise
 * also be the socket that the kernel finds for a client packet forwarded to it over the fabric
 * before the connection it belongs to has been restored here (the body of a POST that follows its
 * head while the connection moves, or a late duplicate ACK of a connection that is over). The
 * listener answers such a packet with a RST, which kills a connection in handoff. Bound to the
 * front interface, the listener is not found for fabric packets: the server guard drops them as it
 * does on a server-only node, and the client retransmits. Accepted connections inherit the binding;
 * one the node serves itself has it cleared ({@link #UNBOUND}), since its later packets may come
 * over the fabric too (a peer that the router sends them to forwards them). Clearing a binding
 * takes {@code CAP_NET_RAW} (both systemd units grant it); {@link #unbindableIndexOf} finds out at
 * start.
 */
public final class BoundInterface {
  /** {@code SO_BINDTOIFINDEX} (SOL_SOCKET, 62): the interface index, 0 for none. */
  public static final IntegerUnixChannelOption SO_BINDTOIFINDEX =
      new IntegerUnixChannelOption(
          "SO_BINDTOIFINDEX",
          io.baton.linux.Sockets.SOL_SOCKET,
          io.baton.linux.Sockets.SO_BINDTOIFINDEX);

  /** The value of {@link #SO_BINDTOIFINDEX} that binds a socket to no interface. */
  public static final int UNBOUND = 0;

  private BoundInterface() {}

  /**
   * The index of {@code device}, once this process has shown that it can bind a socket to it and
   * clear that binding again. Throws, with the reason, when the device is missing or the binding
   * cannot be cleared (no {@code CAP_NET_RAW}): a peer-mode node could then serve no connection
   * itself.
   */
  public static int unbindableIndexOf(String device) throws IOException {
    int index = indexOf(device);
    io.netty.channel.epoll.Epoll.ensureAvailability(); // loads Netty's native code
    io.netty.channel.epoll.EpollSocketChannel probe =
        new io.netty.channel.epoll.EpollSocketChannel();
    try {
      probe.config().setOption(SO_BINDTOIFINDEX, index);
      probe.config().setOption(SO_BINDTOIFINDEX, UNBOUND);
    } catch (io.netty.channel.ChannelException e) {
      throw new IOException(
          "peer mode binds the VIP listeners to "
              + device
              + " and clears that binding on each connection the node serves itself, which needs"
              + " CAP_NET_RAW: "
              + e.getMessage(),
          e);
    } finally {
      probe.unsafe().closeForcibly();
    }
    return index;
  }

  /** The index of {@code device} in this process's network namespace. */
  public static int indexOf(String device) throws IOException {
    NetworkInterface nic;
    try {
      nic = NetworkInterface.getByName(device);
    } catch (SocketException e) {
      throw new IOException("cannot look up interface " + device + ": " + e.getMessage(), e);
    }
    if (nic == null || nic.getIndex() <= 0) {
      throw new IOException("no interface " + device + " in this network namespace");
    }
    return nic.getIndex();
  }
}
