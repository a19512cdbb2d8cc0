package io.baton.worker;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The messages between a server agent and a cooperating worker, one per {@code SOCK_SEQPACKET}
 * message, ASCII, at most {@link #MAX_MESSAGE_BYTES}; the worker listens, the agent connects.
 *
 * <pre>
 * agent  -&gt; worker   BATON-PASS 1                        once, first
 * agent  -&gt; worker   CONN id client-ip:port vip-ip:port  with the connected TCP socket (SCM_RIGHTS)
 * worker -&gt; agent    CLOSED id bytes-in bytes-out        when the worker has closed that socket
 * </pre>
 *
 * The passed socket is blocking and its receive queue may already hold the client's first bytes
 * (the request the dispatcher routed by). {@code CLOSED} lets the agent tell the farm the
 * connection is over; a worker that never sends it keeps the connection counted until the worker's
 * link to the agent closes. Stateless.
 */
public final class PassProtocol {
  /** The protocol's version in the greeting. */
  public static final int VERSION = 1;

  public static final int MAX_MESSAGE_BYTES = 256;

  private PassProtocol() {}

  /** {@code CONN}: a connection passed with the message. */
  public record Conn(long id, InetSocketAddress client, InetSocketAddress vip) {}

  /** {@code CLOSED}: the worker closed connection {@code id} after moving these bytes. */
  public record Closed(long id, long bytesIn, long bytesOut) {}

  public static byte[] hello() {
    return ascii("BATON-PASS " + VERSION);
  }

  public static byte[] conn(Conn c) {
    return ascii("CONN " + c.id() + " " + text(c.client()) + " " + text(c.vip()));
  }

  public static byte[] closed(Closed c) {
    return ascii("CLOSED " + c.id() + " " + c.bytesIn() + " " + c.bytesOut());
  }

  /** Checks a greeting; throws saying what came instead. */
  public static void parseHello(byte[] message) {
    String m = new String(message, StandardCharsets.US_ASCII);
    if (!m.equals("BATON-PASS " + VERSION)) {
      throw new IllegalArgumentException(
          "expected the greeting 'BATON-PASS " + VERSION + "', got '" + printable(m) + "'");
    }
  }

  public static Conn parseConn(byte[] message) {
    String[] f = fields(message, "CONN", 4);
    return new Conn(number(f[1], f), address(f[2], f), address(f[3], f));
  }

  public static Closed parseClosed(byte[] message) {
    String[] f = fields(message, "CLOSED", 4);
    return new Closed(number(f[1], f), number(f[2], f), number(f[3], f));
  }

  private static String[] fields(byte[] message, String verb, int count) {
    String m = new String(message, StandardCharsets.US_ASCII);
    String[] f = m.split(" ", -1);
    if (f.length != count || !f[0].equals(verb)) {
      throw new IllegalArgumentException(
          "expected '" + verb + "' with " + (count - 1) + " fields, got '" + printable(m) + "'");
    }
    return f;
  }

  private static long number(String s, String[] all) {
    try {
      long v = Long.parseLong(s);
      if (v < 0) throw new NumberFormatException();
      return v;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "not a count: '" + printable(s) + "' in '" + printable(String.join(" ", all)) + "'");
    }
  }

  private static InetSocketAddress address(String s, String[] all) {
    int colon = s.lastIndexOf(':');
    try {
      if (colon <= 0) throw new IllegalArgumentException();
      String host = s.substring(0, colon);
      // Literal addresses only: never a name lookup.
      if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) throw new IllegalArgumentException();
      int port = Integer.parseInt(s.substring(colon + 1));
      if (port < 0 || port > 65535) throw new IllegalArgumentException();
      return new InetSocketAddress(InetAddress.ofLiteral(host), port);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "not an IP:PORT: '" + printable(s) + "' in '" + printable(String.join(" ", all)) + "'");
    }
  }

  private static String text(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (b.length() >= 80) return b + "...";
      b.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return b.toString();
  }
}
