package io.baton.worker.example;

import io.baton.worker.ConnectionReceiver;
import io.baton.worker.PassedConnection;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A cooperating worker, as small as it can be while real: receives connections passed by a server
 * agent and serves HTTP/1.1 on them (keep-alive), one thread per connection.
 *
 * <ul>
 *   <li>{@code GET /PATH}: the file under the root, with {@code X-Worker: NAME};
 *   <li>{@code PUT /upload/NAME}: stores the body (Content-Length) as {@code ROOT/uploads/NAME} and
 *       answers 201 with the byte count ({@code Expect: 100-continue} is answered).
 * </ul>
 *
 * <p>Usage: {@code java -cp baton.jar io.baton.worker.example.FileWorker SOCKET ROOT NAME}.
 */
public final class FileWorker {
  private static final int MAX_HEAD = 16 * 1024;

  private final Path root;
  private final String name;

  private FileWorker(Path root, String name) {
    this.root = root.toAbsolutePath().normalize();
    this.name = name;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: FileWorker SOCKET ROOT NAME");
      System.exit(2);
    }
    FileWorker worker = new FileWorker(Path.of(args[1]), args[2]);
    try (ConnectionReceiver receiver =
        ConnectionReceiver.listen(
            Path.of(args[0]),
            conn ->
                Thread.ofPlatform().name("conn-" + conn.id()).start(() -> worker.serve(conn)))) {
      Runtime.getRuntime().addShutdownHook(new Thread(receiver::close));
      System.out.println("worker " + args[2] + " listening on " + args[0]);
      receiver.awaitClose();
    }
  }

  private void serve(PassedConnection conn) {
    try (conn) {
      InputStream in = new BufferedInputStream(conn.input(), 64 * 1024);
      OutputStream out = conn.output();
      while (true) {
        String head = readHead(in);
        if (head == null) return; // the client is done
        if (!answer(head, in, out)) return;
      }
    } catch (IOException | RuntimeException e) {
      System.err.println(conn + ": " + e.getMessage());
    }
  }

  /** Answers one request; false when the connection is to close after it. */
  private boolean answer(String head, InputStream in, OutputStream out) throws IOException {
    String[] lines = head.split("\r\n");
    String[] start = lines[0].split(" ");
    if (start.length != 3 || !start[2].startsWith("HTTP/1."))
      return status(out, 400, "bad request line");
    boolean keepAlive = start[2].equals("HTTP/1.1");
    long length = 0;
    boolean expectContinue = false;
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon <= 0) return status(out, 400, "bad header line");
      String key = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = lines[i].substring(colon + 1).trim();
      switch (key) {
        case "content-length" -> length = Long.parseLong(value);
        case "connection" ->
            keepAlive =
                !value.equalsIgnoreCase("close")
                    && (keepAlive || value.equalsIgnoreCase("keep-alive"));
        case "expect" -> expectContinue = value.equalsIgnoreCase("100-continue");
        case "transfer-encoding" -> {
          return status(out, 411, "send a Content-Length");
        }
        default -> {}
      }
    }
    String method = start[0];
    String path = start[1];
    if (method.equals("PUT") && path.startsWith("/upload/")) {
      Path target = resolve(path.substring("/upload/".length()), root.resolve("uploads"));
      if (target == null) return status(out, 400, "bad upload name");
      if (expectContinue)
        out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      Files.createDirectories(target.getParent());
      try (OutputStream file = Files.newOutputStream(target)) {
        byte[] buf = new byte[64 * 1024];
        long left = length;
        while (left > 0) {
          int n = in.read(buf, 0, (int) Math.min(buf.length, left));
          if (n < 0) throw new IOException("the client ended the body " + left + " bytes short");
          file.write(buf, 0, n);
          left -= n;
        }
      }
      byte[] body = ("stored " + length + " bytes\n").getBytes(StandardCharsets.US_ASCII);
      out.write(
          ("HTTP/1.1 201 Created\r\nX-Worker: "
                  + name
                  + "\r\nContent-Length: "
                  + body.length
                  + "\r\n"
                  + (keepAlive ? "" : "Connection: close\r\n")
                  + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(body);
      return keepAlive;
    }
    if (length > 0) return status(out, 413, "no body expected");
    if (!method.equals("GET")) return status(out, 405, "GET or PUT /upload/NAME");
    Path file = resolve(path.substring(1), root);
    if (file == null || !Files.isRegularFile(file)) return status(out, 404, "no such file");
    long size = Files.size(file);
    out.write(
        ("HTTP/1.1 200 OK\r\nX-Worker: "
                + name
                + "\r\nContent-Length: "
                + size
                + "\r\n"
                + (keepAlive ? "" : "Connection: close\r\n")
                + "\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    try (InputStream f = Files.newInputStream(file)) {
      f.transferTo(out);
    }
    return keepAlive;
  }

  private static Path resolve(String relative, Path base) {
    if (relative.isEmpty() || relative.contains("..") || relative.startsWith("/")) return null;
    Path p = base.resolve(relative).normalize();
    return p.startsWith(base) ? p : null;
  }

  private boolean status(OutputStream out, int code, String why) throws IOException {
    byte[] body = (why + "\n").getBytes(StandardCharsets.US_ASCII);
    out.write(
        ("HTTP/1.1 "
                + code
                + " "
                + why
                + "\r\nX-Worker: "
                + name
                + "\r\nContent-Length: "
                + body.length
                + "\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    return false;
  }

  /** The request head without its blank line; null when the stream ends before a byte of it. */
  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (head.size() == 0) return null;
        throw new IOException("the client ended inside a request head");
      }
      head.write(b);
      if (head.size() > MAX_HEAD)
        throw new IOException("a request head over " + MAX_HEAD + " bytes");
      boolean next = (b == '\r' && matched % 2 == 0) || (b == '\n' && matched % 2 == 1);
      matched = next ? matched + 1 : b == '\r' ? 1 : 0;
      if (matched == 4) {
        String s = head.toString(StandardCharsets.ISO_8859_1);
        return s.substring(0, s.length() - 4);
      }
    }
  }
}
