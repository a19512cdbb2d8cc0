package io.baton.cli.farm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * One HTTP/1.1 keep-alive connection of a test client: sends GETs on the same socket and reads each
 * response by its Content-Length. Confined to the thread that uses it (in the client's namespace:
 * create it on the client host's thread).
 */
final class KeepAliveClient implements AutoCloseable {
  /**
   * A keep-alive connection from the farm's client that {@code server} serves: up to four new
   * connections (round robin puts one there), the others closed.
   */
  static KeepAliveClient landingOn(ProcessFarm farm, String server) throws Exception {
    return farm.client.call(
        () -> {
          for (int i = 0; i < 4; i++) {
            KeepAliveClient c = new KeepAliveClient(ProcessFarm.VIP, 80);
            if (c.get("/whoami.txt").strip().equals(server)) return c;
            c.close();
          }
          throw new AssertionError("no connection landed on " + server);
        });
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private int requests;

  KeepAliveClient(String host, int port) throws IOException {
    this(host, port, null);
  }

  /** A connection from a fixed local address and port (shared with other connections). */
  KeepAliveClient(String host, int port, InetSocketAddress local) throws IOException {
    this(new Socket(), host, port, local);
  }

  /**
   * A connection over {@code unconnected}, a socket opened on the client host's thread (a socket
   * lives in the namespace it was made in), connected from the calling thread, which may be any:
   * the host's one thread then never waits for this connection's answers.
   */
  static KeepAliveClient over(SocketChannel unconnected, String host, int port) throws IOException {
    return new KeepAliveClient(unconnected.socket(), host, port, null);
  }

  private KeepAliveClient(Socket socket, String host, int port, InetSocketAddress local)
      throws IOException {
    this.socket = socket;
    try {
      if (local != null) {
        socket.setReuseAddress(true);
        socket.bind(local);
      }
      socket.connect(new InetSocketAddress(host, port), 5000);
      socket.setSoTimeout(10_000);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  /** The client's end of the connection, "ip:port". */
  String localAddress() {
    return socket.getLocalAddress().getHostAddress() + ":" + socket.getLocalPort();
  }

  /** GET {@code path} on this connection; returns the body (status 200 required). */
  String get(String path) throws IOException {
    out.write(
        ("GET " + path + " HTTP/1.1\r\nHost: farm.test\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    String head = readHead(in);
    if (!head.startsWith("HTTP/1.1 200"))
      throw new IOException("request " + (requests + 1) + ": " + head);
    int length = -1;
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, "content-length:", 0, 15))
        length = Integer.parseInt(line.substring(15).strip());
    }
    if (length < 0) throw new IOException("no Content-Length in " + head);
    byte[] body = in.readNBytes(length);
    if (body.length != length)
      throw new IOException("body cut short: " + body.length + " of " + length);
    requests++;
    return new String(body, StandardCharsets.UTF_8);
  }

  /** Sends {@code bytes} as they are (for example half a request head). */
  void sendRaw(String bytes) throws IOException {
    out.write(bytes.getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  /** Whether the server closed the connection cleanly: EOF within the read timeout, no reset. */
  boolean readsEndOfStream() {
    try {
      return in.read() == -1;
    } catch (IOException e) {
      return false;
    }
  }

  int requests() {
    return requests;
  }

  /** The response head on {@code in}, through its blank line (at most 16 KiB). */
  static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0)
        throw new IOException("connection closed after " + head.size() + " bytes of head: " + head);
      head.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
      if (head.size() > 16384) throw new IOException("head too long");
    }
    return head.toString(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
