package io.baton.server.delivery;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;

/**
 * Test stand-in for a local upstream server (the nginx behind a relay): a java.net listener on
 * 127.0.0.1 whose every connection runs {@link Handler} on a virtual thread. Its {@link #served}
 * future completes with the handler's result for the first connection.
 */
final class TestUpstream implements AutoCloseable {
  /** What the upstream does with one connection; returns a summary for the test. */
  interface Handler {
    long serve(Socket s) throws IOException;
  }

  /** The same, told which connection this is in the order they were accepted (1, 2, ...). */
  interface NumberedHandler {
    long serve(Socket s, int number) throws IOException;
  }

  final CompletableFuture<Long> served = new CompletableFuture<>();
  private final ServerSocket listener;

  TestUpstream(Handler handler) throws IOException {
    this((s, number) -> handler.serve(s));
  }

  TestUpstream(NumberedHandler handler) throws IOException {
    listener = new ServerSocket(0, 16, InetAddress.getByName("127.0.0.1"));
    java.util.concurrent.atomic.AtomicInteger accepted =
        new java.util.concurrent.atomic.AtomicInteger();
    Thread.ofVirtual()
        .name("test-upstream")
        .start(
            () -> {
              while (!listener.isClosed()) {
                Socket s;
                try {
                  s = listener.accept();
                } catch (IOException e) {
                  return;
                }
                int number = accepted.incrementAndGet();
                Thread.ofVirtual()
                    .start(
                        () -> {
                          try (s) {
                            s.setSoTimeout(30_000);
                            served.complete(handler.serve(s, number));
                          } catch (IOException | RuntimeException e) {
                            served.completeExceptionally(e);
                          }
                        });
              }
            });
  }

  InetSocketAddress address() {
    return (InetSocketAddress) listener.getLocalSocketAddress();
  }

  /**
   * Writes {@code words} (US-ASCII) first and shuts its output, then reads until the client's FIN;
   * returns the bytes read.
   */
  static Handler saysFirst(String words) {
    return s -> {
      s.getOutputStream().write(words.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.shutdownOutput();
      return s.getInputStream().transferTo(OutputStream.nullOutputStream());
    };
  }

  /** Echoes until the client's FIN, then shuts its own output; returns the bytes echoed. */
  static long echo(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    byte[] buf = new byte[64 * 1024];
    long total = 0;
    for (int n; (n = in.read(buf)) > 0; ) {
      out.write(buf, 0, n);
      total += n;
    }
    s.shutdownOutput();
    return total;
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
