package io.baton.app;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Test HTTP/1.x client over one socket that shows the wire as it is: requests are raw text, so
 * tests can pipeline, send HTTP/1.0 or chunked bodies, or oversize heads; responses are parsed one
 * at a time, bodies digested as they stream (so a 50 MiB answer costs no heap).
 *
 * <p>Confined to one thread for reading; {@link #out()} may be written from another.
 */
public final class RawHttpClient implements AutoCloseable {
  /** One parsed response. {@code body} holds at most the first 64 KiB. */
  public record Response(
      String version,
      int status,
      Map<String, String> headers,
      long length,
      String sha256,
      byte[] body) {
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private static final int KEEP_BYTES = 64 * 1024;
  private final Socket socket;
  private final InputStream in;

  public RawHttpClient(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(30_000);
    this.in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
  }

  public OutputStream out() throws IOException {
    return socket.getOutputStream();
  }

  public RawHttpClient send(String text) throws IOException {
    out().write(text.getBytes(StandardCharsets.ISO_8859_1));
    return this;
  }

  /** Reads the next response; {@code head} when it answers a HEAD request (no body follows). */
  public Response read(boolean head) throws IOException {
    String statusLine = line();
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2) throw new IOException("bad status line: " + statusLine);
    Map<String, String> headers = new TreeMap<>();
    for (String h; !(h = line()).isEmpty(); ) {
      int colon = h.indexOf(':');
      headers.put(
          h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
    }
    int status = Integer.parseInt(parts[1]);
    Body body = new Body();
    if (!head && status >= 200 && status != 204 && status != 304) {
      if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        for (long size; (size = Long.parseLong(line().split(";")[0].trim(), 16)) > 0; ) {
          body.copy(in, size);
          line();
        }
        while (!line().isEmpty()) {} // trailers
      } else if (headers.containsKey("content-length")) {
        body.copy(in, Long.parseLong(headers.get("content-length")));
      } else {
        body.copy(in, Long.MAX_VALUE);
      }
    }
    return new Response(
        parts[0], status, headers, body.length, body.hex(), body.kept.toByteArray());
  }

  public Response read() throws IOException {
    return read(false);
  }

  /** True when the server has closed (end of stream or reset) and nothing more is buffered. */
  public boolean closedByServer() throws IOException {
    try {
      return in.read() == -1;
    } catch (SocketException e) {
      return true;
    }
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c; (c = in.read()) != '\n'; ) {
      if (c < 0) throw new EOFException("connection closed mid-line after: " + b);
      if (c != '\r') b.write(c);
    }
    return b.toString(StandardCharsets.ISO_8859_1);
  }

  private static final class Body {
    final MessageDigest sha = sha256();
    final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    long length;

    void copy(InputStream in, long limit) throws IOException {
      byte[] buf = new byte[64 * 1024];
      while (limit > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, limit));
        if (n < 0) {
          if (limit == Long.MAX_VALUE || limit < 0) return;
          throw new EOFException("body ended " + limit + " bytes early");
        }
        sha.update(buf, 0, n);
        if (kept.size() < KEEP_BYTES) kept.write(buf, 0, Math.min(n, KEEP_BYTES - kept.size()));
        length += n;
        if (limit != Long.MAX_VALUE) limit -= n;
      }
    }

    String hex() {
      return HexFormat.of().formatHex(sha.digest());
    }
  }

  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
