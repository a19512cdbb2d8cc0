package io.baton.cli.farm;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * One DNS question (type A, class IN) over UDP from a fixed local port, its answer's first address:
 * a flow the test controls (dig picks a new random port per query). Run it inside a lab host's
 * namespace ({@code Host.call}).
 */
public final class DnsProbe {
  private DnsProbe() {}

  /**
   * Asks {@code server} for {@code name}'s A record from {@code local}; the first A address, or
   * empty when no answer came within {@code timeoutMs} or it came from another address than {@code
   * server} (a reply from the wrong source is no answer to a DNS client).
   */
  public static Optional<String> ask(
      InetSocketAddress local, InetSocketAddress server, String name, int timeoutMs)
      throws IOException {
    try (java.net.DatagramSocket socket = new java.net.DatagramSocket(null)) {
      socket.setReuseAddress(true);
      socket.bind(local);
      socket.setSoTimeout(timeoutMs);
      int id = (int) (System.nanoTime() & 0xffff);
      byte[] query = query(id, name);
      socket.send(new java.net.DatagramPacket(query, query.length, server));
      byte[] buf = new byte[1500];
      long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
      while (System.nanoTime() < deadline) {
        java.net.DatagramPacket reply = new java.net.DatagramPacket(buf, buf.length);
        try {
          socket.receive(reply);
        } catch (SocketTimeoutException e) {
          return Optional.empty();
        }
        if (!reply.getSocketAddress().equals(server)) continue;
        Optional<String> a = firstA(ByteBuffer.wrap(buf, 0, reply.getLength()), id);
        if (a.isPresent()) return a;
      }
      return Optional.empty();
    }
  }

  static byte[] query(int id, String name) {
    ByteBuffer b = ByteBuffer.allocate(512);
    b.putShort((short) id).putShort((short) 0x0100).putShort((short) 1);
    b.putShort((short) 0).putShort((short) 0).putShort((short) 0);
    for (String label : name.split("\\.")) {
      byte[] l = label.getBytes(StandardCharsets.US_ASCII);
      b.put((byte) l.length).put(l);
    }
    b.put((byte) 0).putShort((short) 1).putShort((short) 1);
    byte[] out = new byte[b.position()];
    b.flip().get(out);
    return out;
  }

  static Optional<String> firstA(ByteBuffer b, int id) {
    if (b.remaining() < 12 || (b.getShort(0) & 0xffff) != id) return Optional.empty();
    int questions = b.getShort(4) & 0xffff;
    int answers = b.getShort(6) & 0xffff;
    b.position(12);
    for (int i = 0; i < questions; i++) {
      skipName(b);
      b.position(b.position() + 4);
    }
    for (int i = 0; i < answers; i++) {
      skipName(b);
      int type = b.getShort() & 0xffff;
      b.getShort(); // class
      b.getInt(); // ttl
      int length = b.getShort() & 0xffff;
      if (type == 1 && length == 4) {
        byte[] a = new byte[4];
        b.get(a);
        try {
          return Optional.of(InetAddress.getByAddress(a).getHostAddress());
        } catch (java.net.UnknownHostException e) {
          return Optional.empty();
        }
      }
      b.position(b.position() + length);
    }
    return Optional.empty();
  }

  private static void skipName(ByteBuffer b) {
    while (true) {
      int len = b.get() & 0xff;
      if (len == 0) return;
      if ((len & 0xc0) == 0xc0) {
        b.get();
        return;
      }
      b.position(b.position() + len);
    }
  }
}
