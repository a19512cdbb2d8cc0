package io.baton.bench;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.ConnectionRestorer;
import io.baton.transplant.ConnectionState;
import io.baton.transplant.FlowKey;
import io.baton.transplant.TransplantException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Taking a live TCP connection out of the kernel and putting it back: {@link ConnectionExporter}
 * and {@link ConnectionRestorer} on a real connection over loopback, in a namespace of its own;
 * needs root.
 *
 * <p>The connection: a client socket and the server socket accepted for it on 127.0.0.1. The client
 * has sent a 493-byte request head ({@link HeadParsingBenchmark#BROWSER_GET}) that the server never
 * reads, so every export carries it in the receive queue, as a dispatcher's handoff carries the
 * head it routed on. The send queue is empty.
 *
 * <ul>
 *   <li>{@link #exportAndResume}: freeze (drop-all filter), export (repair mode, read the state and
 *       both queues), resume (repair off with a window probe, filter detached). The connection
 *       continues on the same socket.
 *   <li>{@link #exportAndResumeKnownFlow}: the same as the dispatcher does it, which knows the
 *       connection's addresses from its channel (two system calls fewer).
 *   <li>{@link #exportReleaseRestore}: freeze, export, release (silent close in repair mode: no
 *       FIN, no RST), then restore the state into a new socket with the restorer's default options
 *       (transparent, non-blocking, window probe), binding the same 4-tuple. The restored socket is
 *       the server side for the next invocation. This is the whole kernel work of a handoff with
 *       both ends on one host: the old owner's half plus the new owner's half, without the codec
 *       and the network between them.
 * </ul>
 *
 * <p>At tear-down the connection must still carry bytes both ways, or the trial fails.
 *
 * <p>Sockets are created in the namespace the JMH worker thread entered in {@link #setUp}; hence
 * {@code Scope.Thread}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class TransplantBenchmark {
  private static final InetSocketAddress SERVER =
      new InetSocketAddress(StateCodecBenchmark.ipv4("127.0.0.1"), 8080);
  private static final byte[] NOTHING_READ = new byte[0];
  private static final int CHECK_TIMEOUT_MS = 2000;

  private BenchNamespace namespace;
  private int clientFd = -1;
  private int serverFd = -1;
  private byte[] head;
  private FlowKey flow;

  @Setup(Level.Trial)
  public void setUp() throws IOException, TransplantException {
    namespace = BenchNamespace.create("tcp");
    try {
      namespace.ip("link", "set", "lo", "up");
      namespace.enter();
      int listenerFd = Sockets.tcpSocket(false);
      try {
        Sockets.bind(listenerFd, SERVER);
        Sockets.listen(listenerFd, 1);
        clientFd = Sockets.tcpSocket(false);
        Sockets.connect(clientFd, SERVER);
        serverFd = Sockets.accept(listenerFd, false);
      } finally {
        // The restored sockets bind SERVER again; only the connection is needed from here.
        Sockets.close(listenerFd);
      }
      flow = FlowKey.of(Sockets.peerAddress(serverFd), Sockets.localAddress(serverFd));
      head = HeadParsingBenchmark.BROWSER_GET.getBytes(StandardCharsets.US_ASCII);
      writeAll(clientFd, head);
      ConnectionState state = exportAndResume();
      if (state.receiveQueue().length != head.length) {
        throw new IllegalStateException(
            "export found "
                + state.receiveQueue().length
                + " bytes in the receive queue, expected the "
                + head.length
                + "-byte head");
      }
    } catch (IOException | TransplantException | RuntimeException e) {
      try {
        closeAll();
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** Checks that the connection survived the benchmark; always deletes the namespace. */
  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    try {
      if (clientFd >= 0 && serverFd >= 0) checkStillConnected();
    } finally {
      closeAll();
    }
  }

  private void closeAll() throws IOException {
    if (clientFd >= 0) Sockets.closeQuietly(clientFd);
    if (serverFd >= 0) Sockets.closeQuietly(serverFd);
    clientFd = -1;
    serverFd = -1;
    namespace.close();
  }

  @Benchmark
  public ConnectionState exportAndResume() throws TransplantException {
    ConnectionExporter.Frozen frozen = ConnectionExporter.freeze(serverFd);
    ConnectionState state = frozen.export(NOTHING_READ);
    frozen.resume();
    return state;
  }

  @Benchmark
  public ConnectionState exportAndResumeKnownFlow() throws TransplantException {
    ConnectionExporter.Frozen frozen = ConnectionExporter.freeze(serverFd, flow);
    ConnectionState state = frozen.export(NOTHING_READ);
    frozen.resume();
    return state;
  }

  @Benchmark
  public ConnectionRestorer.Restored exportReleaseRestore() throws TransplantException {
    ConnectionExporter.Frozen frozen = ConnectionExporter.freeze(serverFd);
    ConnectionState state = frozen.export(NOTHING_READ);
    frozen.release();
    serverFd = -1;
    ConnectionRestorer.Restored restored =
        ConnectionRestorer.restore(state, ConnectionRestorer.Options.DEFAULT);
    serverFd = restored.fd();
    return restored;
  }

  /** The server reads the head and a ping the client sends now, and the client reads a pong. */
  private void checkStillConnected() throws IOException {
    byte[] ping = "ping".getBytes(StandardCharsets.US_ASCII);
    writeAll(clientFd, ping);
    byte[] expected = Arrays.copyOf(head, head.length + ping.length);
    System.arraycopy(ping, 0, expected, head.length, ping.length);
    byte[] got = readExactly(serverFd, expected.length);
    if (!Arrays.equals(got, expected)) {
      throw new IllegalStateException("the server read other bytes than the client sent");
    }
    byte[] pong = "pong".getBytes(StandardCharsets.US_ASCII);
    writeAll(serverFd, pong);
    if (!Arrays.equals(readExactly(clientFd, pong.length), pong)) {
      throw new IllegalStateException("the client read other bytes than the server sent");
    }
  }

  private static void writeAll(int fd, byte[] bytes) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
      long done = 0;
      while (done < bytes.length) {
        int n = Sockets.send(fd, buf.asSlice(done), Sockets.MSG_NOSIGNAL);
        if (n < 0) {
          Sockets.poll(fd, Sockets.POLLOUT, CHECK_TIMEOUT_MS);
        } else {
          done += n;
        }
      }
    }
  }

  private static byte[] readExactly(int fd, int length) throws IOException {
    long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CHECK_TIMEOUT_MS);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(length);
      int done = 0;
      while (done < length) {
        if (System.nanoTime() > deadlineNs) {
          throw new IOException(
              "connection stalled: read "
                  + done
                  + " of "
                  + length
                  + " bytes in "
                  + CHECK_TIMEOUT_MS
                  + " ms after the benchmark");
        }
        if (Sockets.poll(fd, Sockets.POLLIN, 100) == 0) continue;
        int n = Sockets.recv(fd, buf.asSlice(done), Sockets.MSG_DONTWAIT);
        if (n == 0) throw new IOException("connection closed after " + done + " bytes");
        if (n > 0) done += n;
      }
      return buf.toArray(ValueLayout.JAVA_BYTE);
    }
  }
}
