package io.baton.bench;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.transplant.FlowKey;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
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
 * The dispatcher's accept of a connection and the read of its first request, over loopback in a
 * namespace of its own; needs root. Each invocation connects a client, which sends a 493-byte
 * request head ({@link HeadParsingBenchmark#BROWSER_GET}); the listener side accepts it, reads the
 * head and learns the connection's addresses; both ends are then closed with a RST (no TIME_WAIT
 * piles up). The client's part is the same in both:
 *
 * <ul>
 *   <li>{@link #rawAccept}: what the dispatcher does since issue 8's first-request change ({@code
 *       AcceptedConnection}): accept4 with the client's address, recv into a reused buffer, the
 *       local address known (the VIP's).
 *   <li>{@link #nettyChannel}: the same with a Netty {@link EpollSocketChannel} made for the
 *       accepted socket, as Netty's acceptor made one per connection before: the channel's
 *       construction and its addresses (its system calls: two getsockname, getpeername, SO_ERROR,
 *       SO_SNDBUF, TCP_NODELAY). Its four epoll_ctl calls, the pipeline and the registration are
 *       not in it, so the difference is a lower bound of what the change saved.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class FirstRequestBenchmark {
  private static final InetSocketAddress LISTENER =
      new InetSocketAddress(StateCodecBenchmark.ipv4("127.0.0.1"), 8080);

  private BenchNamespace namespace;
  private int listenerFd = -1;
  private Arena arena;
  private MemorySegment head;
  private int headLength;
  private final byte[] buffer = new byte[Sockets.RECV_BUFFER_BYTES];

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Epoll.ensureAvailability();
    namespace = BenchNamespace.create("accept");
    try {
      namespace.ip("link", "set", "lo", "up");
      namespace.enter();
      listenerFd = Sockets.tcpSocket(true);
      Sockets.bind(listenerFd, LISTENER);
      Sockets.listen(listenerFd, 128);
      arena = Arena.ofConfined();
      byte[] bytes = HeadParsingBenchmark.BROWSER_GET.getBytes(StandardCharsets.US_ASCII);
      head = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
      headLength = bytes.length;
    } catch (IOException | RuntimeException e) {
      tearDown();
      throw e;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    Sockets.closeQuietly(listenerFd);
    listenerFd = -1;
    if (arena != null) arena.close();
    arena = null;
    if (namespace != null) namespace.close();
  }

  @Benchmark
  public FlowKey rawAccept() throws IOException {
    int client = connectAndSend();
    Sockets.Accepted accepted = Sockets.acceptWithPeer(listenerFd);
    if (accepted == null) throw new IllegalStateException("nothing to accept after a connect");
    try {
      readHead(accepted.fd());
      return FlowKey.of(accepted.peer(), LISTENER);
    } finally {
      closeBoth(client, accepted.fd());
    }
  }

  @Benchmark
  public FlowKey nettyChannel() throws IOException {
    int client = connectAndSend();
    int fd = Sockets.accept(listenerFd, true);
    if (fd < 0) throw new IllegalStateException("nothing to accept after a connect");
    EpollSocketChannel ch = new EpollSocketChannel(fd);
    try {
      readHead(fd);
      return FlowKey.of(ch.remoteAddress(), ch.localAddress());
    } finally {
      Sockets.setLingerReset(client);
      Sockets.close(client);
      ch.unsafe().closeForcibly();
    }
  }

  private int connectAndSend() throws LinuxException {
    int client = Sockets.tcpSocket(false);
    Sockets.connect(client, LISTENER); // blocking; over loopback the handshake is done on return
    int n = Sockets.send(client, head, Sockets.MSG_NOSIGNAL);
    if (n != headLength) throw new IllegalStateException("sent " + n + " of " + headLength);
    return client;
  }

  private void readHead(int fd) throws LinuxException {
    int done = 0;
    while (done < headLength) {
      int n = Sockets.recv(fd, buffer, done, buffer.length - done);
      if (n == 0) throw new IllegalStateException("end of stream after " + done + " bytes");
      if (n > 0) done += n;
    }
  }

  private static void closeBoth(int client, int server) throws LinuxException {
    Sockets.setLingerReset(client);
    Sockets.close(client);
    Sockets.close(server);
  }
}
