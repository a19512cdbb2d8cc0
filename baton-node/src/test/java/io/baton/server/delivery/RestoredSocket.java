package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.transplant.FlowKey;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * Test stand-in for a restored connection, without a lab: a loopback client socket and the raw,
 * non-blocking server-side descriptor of the same connection, as the agent would hold it after a
 * restore. Bytes the client writes before {@link Delivery#deliver} wait in the descriptor's receive
 * queue, like a replayed request.
 *
 * <p>Confined to the test thread; the client socket may be handed to helper threads.
 */
final class RestoredSocket implements AutoCloseable {
  final Socket client;
  final int fd;
  final ConnectionInfo info;
  private boolean delivered;

  private RestoredSocket(Socket client, int fd, ConnectionInfo info) {
    this.client = client;
    this.fd = fd;
    this.info = info;
  }

  static RestoredSocket open(String summary) throws IOException {
    Inet4Address loopback = (Inet4Address) InetAddress.getByName("127.0.0.1");
    int listener = Sockets.tcpSocket(false);
    try {
      Sockets.bind(listener, new InetSocketAddress(loopback, 0));
      Sockets.listen(listener, 1);
      InetSocketAddress address = Sockets.localAddress(listener);
      Socket client = new Socket(address.getAddress(), address.getPort());
      client.setSoTimeout(20_000);
      int fd = Sockets.accept(listener, true);
      if (fd < 0) throw new LinuxException("accept4", "no connection queued");
      FlowKey flow = new FlowKey(loopback, client.getLocalPort(), loopback, address.getPort());
      return new RestoredSocket(client, fd, new ConnectionInfo(flow, summary));
    } finally {
      Sockets.closeQuietly(listener);
    }
  }

  /** Hands the descriptor to {@code delivery}, which owns it from then on. */
  void deliverTo(Delivery delivery, byte[] unsentTail, CloseListener onClosed) {
    deliverTo(delivery, unsentTail, onClosed, m -> {});
  }

  /** The same, and {@code onMovable} gets the connection as a live migration would move it. */
  void deliverTo(
      Delivery delivery,
      byte[] unsentTail,
      CloseListener onClosed,
      java.util.function.Consumer<Movable> onMovable) {
    delivered = true;
    delivery.deliver(fd, unsentTail, info, onClosed, onMovable);
  }

  @Override
  public void close() throws IOException {
    client.close();
    if (!delivered) Sockets.closeQuietly(fd);
  }
}
