package io.baton.cli.farm;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * One GET of a large file by a slow client: reads the body at a fixed pace, so that TCP's flow
 * control slows the server to it and the connection lives long enough to see a fault, and returns
 * the body's SHA-256. In a test's thread, not a process: fifty {@code curl | pv | sha256sum}
 * pipelines cost ~200 process starts (~20 ms of CPU each on the lab's hosts), which starved the
 * farm's processes past the fabric's 1 s dead timer.
 */
final class PacedDownload {
  private static final int CHUNK = 16 * 1024;

  private PacedDownload() {}

  /**
   * GETs {@code path} over {@code unconnected} (a socket opened on the client host's thread, so in
   * its namespace), reading at most {@code bytesPerSecond}; the whole transfer must end within
   * {@code limit}.
   *
   * @return the body's SHA-256, hex
   * @throws IOException if the connection fails, is reset or cut short, the answer is not a 200
   *     with a Content-Length, or the transfer outlasts {@code limit}
   */
  static String sha256(
      SocketChannel unconnected,
      String host,
      int port,
      String path,
      long bytesPerSecond,
      Duration limit)
      throws IOException, InterruptedException {
    long startNs = System.nanoTime();
    long deadlineNs = startNs + limit.toNanos();
    try (Socket socket = unconnected.socket()) {
      socket.connect(new InetSocketAddress(host, port), 5000);
      socket.setSoTimeout((int) Math.min(limit.toMillis(), Integer.MAX_VALUE));
      socket
          .getOutputStream()
          .write(
              ("GET " + path + " HTTP/1.1\r\nHost: farm.test\r\nConnection: close\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      InputStream in = socket.getInputStream();
      long length = contentLength(KeepAliveClient.readHead(in));
      MessageDigest digest = sha256();
      byte[] buf = new byte[CHUNK];
      long read = 0;
      while (read < length) {
        int n;
        try {
          n = in.read(buf, 0, (int) Math.min(buf.length, length - read));
        } catch (IOException e) {
          throw new IOException(
              "%s after %d of %d bytes, %d ms"
                  .formatted(e, read, length, (System.nanoTime() - startNs) / 1_000_000),
              e);
        }
        if (n < 0) throw new IOException("body cut short: " + read + " of " + length + " bytes");
        digest.update(buf, 0, n);
        read += n;
        long now = System.nanoTime();
        if (now > deadlineNs)
          throw new IOException(
              "not done after " + limit + ": " + read + " of " + length + " bytes");
        // The reader's pace (not a wait for an event): ahead of it, it rests.
        long dueNs = startNs + read * 1_000_000_000L / bytesPerSecond;
        if (dueNs > now) Thread.sleep(Duration.ofNanos(dueNs - now));
      }
      return HexFormat.of().formatHex(digest.digest());
    }
  }

  private static long contentLength(String head) throws IOException {
    if (!head.startsWith("HTTP/1.1 200")) throw new IOException("answer: " + head.strip());
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, "content-length:", 0, 15))
        return Long.parseLong(line.substring(15).strip());
    }
    throw new IOException("no Content-Length in " + head.strip());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }
}
