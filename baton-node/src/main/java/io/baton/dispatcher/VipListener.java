package io.baton.dispatcher;

import io.baton.dataplane.Vip;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.log.RateLimitedLog;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One listening socket of a TCP VIP, owned by one event loop: every event loop of a dispatcher has
 * its own ({@code SO_REUSEPORT}; the kernel spreads new connections over them by their addresses),
 * and a connection stays on the loop that accepted it from accept to handoff, with no hand-over
 * between threads. Accepts with accept4(2) and starts each connection's first-request phase as an
 * {@link AcceptedConnection}.
 *
 * <p>A listener is bound and listening from {@link #bind}; connections wait in its backlog until
 * {@link #accept} registers it with its loop (a planned reload binds the next process's listeners
 * paused, so that the kernel queues connections there rather than refusing them). Confined to its
 * loop once accepting.
 */
final class VipListener {
  private static final Logger log = LoggerFactory.getLogger(VipListener.class);
  private static final RateLimitedLog acceptFailures =
      new RateLimitedLog(log, "accept failures", 5);

  /** The backlog of each listening socket. */
  static final int BACKLOG = 1024;

  /** At most this many connections are accepted per wake-up, so that other work gets its turn. */
  private static final int ACCEPTS_PER_WAKEUP = 64;

  private final Vip vip;
  private final int fd;
  private IoEventLoop loop;
  private IoRegistration registration;
  private volatile boolean closed;

  private VipListener(Vip vip, int fd) {
    this.vip = vip;
    this.fd = fd;
  }

  /**
   * A socket listening on {@code vip}, not yet accepting; with {@code boundInterface} other than
   * {@link io.baton.netty.BoundInterface#UNBOUND}, bound to that interface (peer mode).
   *
   * <p>AF_INET for an IPv4 VIP (a dual-stack AF_INET6 socket's connections, v4-mapped, could not be
   * exported as IPv4 state); AF_INET6, IPv6-only, for an IPv6 VIP. {@code IP_TRANSPARENT}: a node
   * that is also a server has a guard that only lets transparent sockets see VIP traffic, and
   * accepted connections inherit the flag (on an AF_INET6 socket Linux keeps IP_TRANSPARENT and
   * IPV6_TRANSPARENT in one flag).
   *
   * <p>With {@code delayFirstAck}, {@code TCP_QUICKACK} is off on the listening socket once it
   * listens (listen() resets it), and every connection accepted from it inherits that (the kernel
   * copies the listener's delayed-ACK mode into each child): the client's first request is not
   * acknowledged at once but after the delayed-ACK timeout (40 ms), by which time a handoff has
   * frozen and closed the socket without it leaving. The server's answer acknowledges the request
   * instead, one packet fewer on the dispatcher node per connection ({@code OwedAck} on the server
   * covers a slow answer). A request longer than one full segment is still acknowledged at once, as
   * TCP does.
   */
  static VipListener bind(Vip vip, int boundInterface, boolean delayFirstAck) throws IOException {
    int fd = -1;
    try {
      fd = Sockets.tcpSocketFor(vip.address(), true);
      Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1, "SO_REUSEADDR");
      Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 1, "SO_REUSEPORT");
      Sockets.setTransparent(fd, Sockets.familyOf(vip.address()));
      if (boundInterface != io.baton.netty.BoundInterface.UNBOUND) {
        Sockets.setInt(
            fd, Sockets.SOL_SOCKET, Sockets.SO_BINDTOIFINDEX, boundInterface, "SO_BINDTOIFINDEX");
      }
      Sockets.bind(fd, new InetSocketAddress(vip.address(), vip.port()));
      Sockets.listen(fd, BACKLOG);
      if (delayFirstAck) {
        // After listen(), which resets the delayed-ACK state (inet_csk_listen_start).
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUICKACK, 0, "TCP_QUICKACK");
      }
      return new VipListener(vip, fd);
    } catch (LinuxException e) {
      Sockets.closeQuietly(fd);
      throw new IOException(
          "cannot listen on VIP "
              + vip
              + ": "
              + e.getMessage()
              + " (is the VIP configured on the front interface?)",
          e);
    }
  }

  Vip vip() {
    return vip;
  }

  /** The listening socket (for options its connections inherit, such as TCP_MAXSEG). */
  int fd() {
    return fd;
  }

  /**
   * How long a listener stops accepting after accept4 fails: out of descriptors, the connection
   * stays queued and the listening socket stays readable, so retrying at once would spin the loop
   * (Netty's acceptor pauses for the same second).
   */
  static final Duration ACCEPT_PAUSE = Duration.ofSeconds(1);

  /** What a listener does with each connection it accepts; runs on its loop. */
  interface Acceptor {
    void accepted(IoEventLoop loop, Sockets.Accepted connection, byte[] readBuffer);
  }

  /**
   * Starts accepting on {@code loop}; call once, from any thread but the loop's. {@code failures}
   * counts accept4 failures.
   */
  void accept(IoEventLoop loop, Acceptor acceptor, LongAdder failures) throws IOException {
    this.loop = loop;
    Readiness readiness = new Readiness(acceptor, new byte[Sockets.RECV_BUFFER_BYTES], failures);
    // Registered, and its interest set, on the loop: the registration is the loop's to change.
    Future<?> f = loop.submit(() -> register(readiness)).awaitUninterruptibly();
    if (!f.isSuccess()) {
      throw new IOException("cannot accept on VIP " + vip + ": " + f.cause(), f.cause());
    }
  }

  private void register(Readiness readiness) {
    if (closed) return;
    Future<IoRegistration> r = loop.register(readiness);
    if (!r.isSuccess()) throw new IllegalStateException(String.valueOf(r.cause()));
    registration = r.getNow();
    registration.submit(EpollIoOps.EPOLLIN);
  }

  /**
   * Stops accepting for {@link #ACCEPT_PAUSE}, then goes on. The registration is cancelled and made
   * anew (an empty interest set would trip Netty's epoll bug; see KeepEpollRegistered).
   */
  private void pause(Readiness readiness) {
    registration.cancel();
    registration = null;
    loop.schedule(
        () -> {
          try {
            register(readiness);
          } catch (RuntimeException e) {
            log.error("VIP {}: cannot accept again after a pause: {}", vip, e.toString());
          }
        },
        ACCEPT_PAUSE.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  final class Readiness implements EpollIoHandle {
    private final Acceptor acceptor;
    private final byte[] buffer;
    private final LongAdder failures;
    private final FileDescriptor descriptor = new FileDescriptor(fd);

    Readiness(Acceptor acceptor, byte[] buffer, LongAdder failures) {
      this.acceptor = acceptor;
      this.buffer = buffer;
      this.failures = failures;
    }

    @Override
    public FileDescriptor fd() {
      return descriptor;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
      for (int i = 0; i < ACCEPTS_PER_WAKEUP && !closed; i++) {
        Sockets.Accepted c;
        try {
          c = Sockets.acceptWithPeer(fd);
        } catch (LinuxException e) {
          // EMFILE and the like: the connection stays queued; accepting pauses, then goes on.
          failures.increment();
          acceptFailures.warn(
              "VIP {}: {}; not accepting for {} ms", vip, e.getMessage(), ACCEPT_PAUSE.toMillis());
          pause(this);
          return;
        }
        if (c == null) return;
        acceptor.accepted(loop, c, buffer);
      }
    }

    @Override
    public void close() {
      closeNow(); // the event loop is shutting down
    }
  }

  /**
   * Stops listening: connections still queued are reset, or moved to another listener of the VIP
   * ({@code net.ipv4.tcp_migrate_req}). Waits until done; safe to call more than once.
   */
  void close() {
    IoEventLoop l = loop;
    if (l == null || l.inEventLoop() || l.isShuttingDown()) {
      closeNow(); // not accepting, or its loop is going: nothing else touches the socket now
      return;
    }
    l.submit(this::closeNow).awaitUninterruptibly();
  }

  private void closeNow() {
    if (closed) return;
    closed = true;
    if (registration != null) registration.cancel();
    Sockets.closeQuietly(fd);
  }
}
