package io.baton.server.delivery;

import io.baton.linux.Sockets;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers restored connections to an unmodified local upstream server (nginx on 127.0.0.1:8080,
 * say): each connection gets its own upstream connection and the bytes are moved between the two
 * with splice(2), zero-copy, on one epoll event loop (see {@link SpliceRelay}). Responses leave
 * from the restored socket, which is bound to the VIP, so they go straight to the client.
 *
 * <p>Each event loop keeps up to {@code preconnect} connections per upstream open ahead of need
 * ({@link PreconnectedUpstreams}): a restored connection takes one that is already connected, and
 * its relay opens the next one once its answer has started. None are kept while no connection
 * comes. Each loop also keeps the drained pipes of ended relays for the next ({@link PipePool}).
 *
 * <p>Why not Netty's {@code AbstractEpollStreamChannel.spliceTo}: its native splice reports end of
 * stream and "would block" alike (both 0), so a half-closed direction keeps a level-triggered loop
 * spinning; it shuts the input down on RDHUP while bytes may still sit in the socket or its pipe,
 * so a FIN cannot be forwarded in order; and it counts nothing. The relay therefore registers the
 * raw sockets with the same {@code EpollIoHandler} and splices through {@link
 * io.baton.linux.Splice}.
 *
 * <p>If an upstream cannot be reached the relay asks its chooser for another (a pool of workers has
 * more); when none is left the client connection is closed with one WARN line: the relay runs after
 * ACCEPTED, so there is nobody left to hand the connection back to.
 *
 * <p>A connection on which no byte moves in either direction for the idle timeout is closed (both
 * sockets; the client gets a FIN) and counted in {@link #idleTimeouts}.
 *
 * <p>Thread-safe; connections are spread over the group's event loops.
 */
public final class RelayDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(RelayDelivery.class);
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private final EventLoopGroup epollGroup;
  private final UpstreamChooser chooser;
  private final String name;
  private final long connectTimeoutMs;
  private final long idleTimeoutNs;
  private final LongAdder idleClosed = new LongAdder();
  private final OwedAck owedAck = new OwedAck();
  private final boolean followHttp;
  private final PreconnectedUpstreams.Counters preconnectCounts =
      new PreconnectedUpstreams.Counters();
  private final Map<EventExecutor, PreconnectedUpstreams> preconnected = new HashMap<>();
  private final Map<EventExecutor, PipePool> pipes = new HashMap<>();

  /** Spare pipes each event loop keeps (two per relayed connection). */
  static final int SPARE_PIPES = 64;

  /** With {@link #DEFAULT_CONNECT_TIMEOUT}. */
  public RelayDelivery(
      EventLoopGroup epollGroup, InetSocketAddress upstream, Duration idleTimeout) {
    this(epollGroup, upstream, DEFAULT_CONNECT_TIMEOUT, idleTimeout);
  }

  /**
   * @param epollGroup a group of epoll event loops ({@code new MultiThreadIoEventLoopGroup(n,
   *     EpollIoHandler.newFactory())})
   * @param upstream the local server, IPv4
   * @param connectTimeout how long an upstream connect may take before the client is closed
   * @param idleTimeout a connection with no bytes moving in either direction for this long is
   *     closed
   */
  public RelayDelivery(
      EventLoopGroup epollGroup,
      InetSocketAddress upstream,
      Duration connectTimeout,
      Duration idleTimeout) {
    this(epollGroup, upstream, connectTimeout, idleTimeout, false);
  }

  /**
   * @param followHttp whether the relay follows the HTTP/1.x messages (peeking at heads, still
   *     splicing every byte), which gives its connections a safe point to move at: between two
   *     requests. For a VIP in http mode.
   *     <p>Opens no connection ahead of need.
   */
  public RelayDelivery(
      EventLoopGroup epollGroup,
      InetSocketAddress upstream,
      Duration connectTimeout,
      Duration idleTimeout,
      boolean followHttp) {
    this(epollGroup, upstream, connectTimeout, idleTimeout, followHttp, 0);
  }

  /**
   * @param preconnect connections each event loop keeps open ahead to {@code upstream} (0: none)
   */
  public RelayDelivery(
      EventLoopGroup epollGroup,
      InetSocketAddress upstream,
      Duration connectTimeout,
      Duration idleTimeout,
      boolean followHttp,
      int preconnect) {
    this(
        epollGroup,
        UpstreamChooser.fixed(checked(upstream)),
        hostPort(upstream),
        connectTimeout,
        idleTimeout,
        followHttp,
        preconnect);
  }

  private static String hostPort(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private static InetSocketAddress checked(InetSocketAddress upstream) {
    Objects.requireNonNull(upstream, "upstream");
    if (upstream.isUnresolved()) {
      throw new IllegalArgumentException("upstream address is unresolved: " + upstream);
    }
    return upstream;
  }

  /**
   * @param chooser where each connection goes (one application, or a pool of workers)
   * @param name what the chooser is, for logs
   * @param preconnect connections each event loop keeps open ahead per upstream (0: none)
   */
  public RelayDelivery(
      EventLoopGroup epollGroup,
      UpstreamChooser chooser,
      String name,
      Duration connectTimeout,
      Duration idleTimeout,
      boolean followHttp,
      int preconnect) {
    this.epollGroup = Objects.requireNonNull(epollGroup, "epollGroup");
    this.chooser = Objects.requireNonNull(chooser, "chooser");
    this.name = name;
    this.followHttp = followHttp;
    if (connectTimeout.isNegative() || connectTimeout.isZero()) {
      throw new IllegalArgumentException("connect timeout must be positive: " + connectTimeout);
    }
    this.connectTimeoutMs = connectTimeout.toMillis();
    this.idleTimeoutNs = positiveNanos(idleTimeout, "idle timeout");
    ioLoop(epollGroup.next()); // fail at construction, not per connection
    if (preconnect < 0) throw new IllegalArgumentException("preconnect < 0: " + preconnect);
    for (EventExecutor e : epollGroup) {
      PipePool pool = new PipePool(SPARE_PIPES);
      pipes.put(e, pool);
      e.terminationFuture().addListener(f -> pool.close()); // the loop is gone: nothing races it
    }
    if (preconnect > 0) {
      for (EventExecutor e : epollGroup) {
        preconnected.put(
            e, new PreconnectedUpstreams(ioLoop((EventLoop) e), preconnect, preconnectCounts));
      }
    }
  }

  @Override
  public void deliver(
      int fd,
      byte[] unsentTail,
      ConnectionInfo info,
      CloseListener onClosed,
      java.util.function.Consumer<Movable> onMovable) {
    CloseListener once = new CloseOnce(onClosed, info);
    IoEventLoop loop = ioLoop(epollGroup.next());
    SpliceRelay relay =
        new SpliceRelay(
            loop,
            fd,
            unsentTail.clone(),
            chooser,
            preconnected.get(loop),
            pipes.get(loop),
            connectTimeoutMs,
            idleTimeoutNs,
            idleClosed,
            owedAck,
            info,
            once,
            followHttp);
    onMovable.accept(relay.movable());
    try {
      loop.execute(relay::start);
    } catch (RejectedExecutionException e) {
      log.warn("relay of {} not started: the event loop is shut down; closing it", info);
      Sockets.closeQuietly(fd);
      once.onClosed(0, 0);
    }
  }

  @Override
  public long idleTimeouts() {
    return idleClosed.sum();
  }

  @Override
  public long owedAcksSent() {
    return owedAck.sent();
  }

  /** Pipes the loops keep for their next relays now (for tests; asks each loop). */
  int sparePipes() throws Exception {
    int n = 0;
    for (var e : pipes.entrySet()) n += e.getKey().submit(e.getValue()::spare).get();
    return n;
  }

  /** What became of the connections opened ahead of need, all loops together, so far. */
  public record Preconnects(long used, long expired, long closedByUpstream, long failed) {
    public Preconnects plus(Preconnects o) {
      return new Preconnects(
          used + o.used,
          expired + o.expired,
          closedByUpstream + o.closedByUpstream,
          failed + o.failed);
    }
  }

  public Preconnects preconnects() {
    var c = preconnectCounts;
    return new Preconnects(
        c.used().sum(), c.expired().sum(), c.closedByUpstream().sum(), c.failed().sum());
  }

  /** {@code d} in nanoseconds; refuses null, zero and negative durations naming {@code what}. */
  static long positiveNanos(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive: " + d);
    }
    return d.toNanos();
  }

  private static IoEventLoop ioLoop(EventLoop loop) {
    if (loop instanceof IoEventLoop io && io.isCompatible(RelayEndpoint.class)) return io;
    throw new IllegalArgumentException(
        "the relay needs an epoll event loop group (EpollIoHandler) that accepts "
            + EpollIoHandle.class.getSimpleName()
            + "s, got "
            + loop.getClass().getName());
  }

  @Override
  public String toString() {
    return "RelayDelivery[" + name + "]";
  }
}
