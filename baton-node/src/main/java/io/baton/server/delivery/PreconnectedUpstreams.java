package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.Future;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event loop's connections to upstreams, opened ahead of need: a relay that starts takes a
 * connected one instead of connecting on its client's time (the connect and the upstream's accept
 * were a third of a relayed request's latency, bench/README.md). Like Envoy's preconnecting, not
 * like a keep-alive pool: each connection still carries exactly one client connection, so nothing
 * in the bytes changes and the upstream sees what it saw before, only a little earlier.
 *
 * <ul>
 *   <li>{@link #fill} opens connections to an address until {@code perUpstream} are connected or
 *       connecting; the relays call it after each start, so an idle server keeps none.
 *   <li>{@link #take} gives a connected one, after checking that the upstream has not closed it
 *       (one {@code recv(MSG_PEEK)}); null when none is ready.
 *   <li>One unused for {@link #MAX_AGE_NS} is closed without a byte sent (servers time out
 *       connections that send no request: nginx after 60 s, Apache after 20), as is one the
 *       upstream closes or that fails to connect. A failed connect is only counted here: the
 *       relay's own connect reports the upstream as failed if it stays so.
 * </ul>
 *
 * <p>Confined to its event loop.
 */
final class PreconnectedUpstreams {
  private static final Logger log = LoggerFactory.getLogger(PreconnectedUpstreams.class);

  /** How long a connection may wait unused before it is closed. */
  static final long MAX_AGE_NS = TimeUnit.SECONDS.toNanos(2);

  /** What became of the connections opened ahead; shared by a delivery's loops. */
  record Counters(
      java.util.concurrent.atomic.LongAdder used,
      java.util.concurrent.atomic.LongAdder expired,
      java.util.concurrent.atomic.LongAdder closedByUpstream,
      java.util.concurrent.atomic.LongAdder failed) {
    Counters() {
      this(
          new java.util.concurrent.atomic.LongAdder(),
          new java.util.concurrent.atomic.LongAdder(),
          new java.util.concurrent.atomic.LongAdder(),
          new java.util.concurrent.atomic.LongAdder());
    }
  }

  /** A connection a relay took: its descriptor and epoll registration, now the relay's. */
  record Taken(int fd, IoRegistration registration) {}

  private final IoEventLoop loop;
  private final int perUpstream;
  private final Counters counters;
  private final Map<InetSocketAddress, ArrayDeque<Spare>> spares = new HashMap<>();

  /** One byte to peek into, native, for the liveness check; lives as long as the loop. */
  private final MemorySegment peekByte = Arena.ofAuto().allocate(1);

  PreconnectedUpstreams(IoEventLoop loop, int perUpstream, Counters counters) {
    if (perUpstream < 0) throw new IllegalArgumentException("perUpstream < 0: " + perUpstream);
    this.loop = loop;
    this.perUpstream = perUpstream;
    this.counters = counters;
  }

  /** A connected connection to {@code address} for {@code relay}, or null if none is ready. */
  Taken take(InetSocketAddress address, RelayEndpoint.Listener relay) {
    ArrayDeque<Spare> list = spares.get(address);
    if (list == null) return null;
    for (var it = list.iterator(); it.hasNext(); ) {
      Spare s = it.next();
      if (s.state != SpareState.READY) continue;
      it.remove();
      if (!s.alive()) continue;
      s.handOver(relay);
      counters.used().increment();
      return new Taken(s.fd, s.registration);
    }
    return null;
  }

  /** Opens connections to {@code address} until {@code perUpstream} are ready or connecting. */
  void fill(InetSocketAddress address) {
    if (perUpstream == 0) return;
    ArrayDeque<Spare> list = spares.computeIfAbsent(address, a -> new ArrayDeque<>(perUpstream));
    while (list.size() < perUpstream) {
      Spare s = open(address);
      if (s == null) return; // counted and logged; the next start tries again
      list.addLast(s);
    }
  }

  /** Connections held for {@code address} now, connected or connecting (for tests). */
  int held(InetSocketAddress address) {
    ArrayDeque<Spare> list = spares.get(address);
    return list == null ? 0 : list.size();
  }

  private Spare open(InetSocketAddress address) {
    int fd;
    try {
      fd = Sockets.tcpSocketFor(address.getAddress(), true);
    } catch (LinuxException e) {
      failed(address, e.getMessage());
      return null;
    }
    Spare s = new Spare(address, fd);
    try {
      boolean connected = Sockets.connect(fd, address);
      s.endpoint = new RelayEndpoint(fd, s);
      Future<IoRegistration> f = loop.register(s.endpoint);
      if (!f.isSuccess()) {
        throw new LinuxException("epoll register(fd " + fd + ")", String.valueOf(f.cause()));
      }
      s.registration = f.getNow();
      s.registration.submit(RelayEndpoint.INTEREST);
      s.state = connected ? SpareState.READY : SpareState.CONNECTING;
      s.expiry = loop.schedule(s::expire, MAX_AGE_NS, TimeUnit.NANOSECONDS);
      return s;
    } catch (LinuxException | RuntimeException e) { // RuntimeException: epoll_ctl inside Netty
      s.discard();
      failed(address, e.getMessage());
      return null;
    }
  }

  private void failed(InetSocketAddress address, String why) {
    counters.failed().increment();
    log.debug("could not open a connection ahead to {}: {}", address, why);
  }

  private enum SpareState {
    CONNECTING,
    READY,
    TAKEN,
    CLOSED
  }

  /** One connection opened ahead, until a relay takes it or it is closed. */
  private final class Spare implements RelayEndpoint.Listener {
    private final InetSocketAddress address;
    private final int fd;
    private RelayEndpoint endpoint;
    private IoRegistration registration;
    private Future<?> expiry;
    private SpareState state = SpareState.CONNECTING;

    Spare(InetSocketAddress address, int fd) {
      this.address = address;
      this.fd = fd;
    }

    @Override
    public void onReady(RelayEndpoint e, EpollIoOps ops) {
      if (state == SpareState.CONNECTING) {
        int err;
        try {
          err = Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR");
        } catch (LinuxException ex) {
          err = -1;
        }
        if (err != 0) {
          drop();
          failed(address, err > 0 ? new LinuxException("connect", err).getMessage() : "SO_ERROR");
          return;
        }
        if (!ops.contains(EpollIoOps.EPOLLOUT)) return;
        state = SpareState.READY;
        // The same edge may carry the upstream's close already: go on.
      }
      // Bytes alone (a server that speaks first) wait for the relay; a close or an error ends the
      // connection.
      if (state == SpareState.READY
          && (ops.contains(EpollIoOps.EPOLLRDHUP) || ops.contains(EpollIoOps.EPOLLERR))) {
        drop();
        counters.closedByUpstream().increment();
      }
    }

    @Override
    public void onEventLoopClosing() {
      if (state != SpareState.TAKEN) discard();
    }

    /**
     * Still open at the upstream: nothing to read yet, or bytes it sent first; not end of stream.
     */
    boolean alive() {
      try {
        if (Sockets.recv(fd, peekByte, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT) != 0) return true;
      } catch (LinuxException e) {
        log.debug("connection ahead to {} failed: {}", address, e.getMessage());
      }
      discard();
      counters.closedByUpstream().increment();
      return false;
    }

    void handOver(RelayEndpoint.Listener relay) {
      state = SpareState.TAKEN;
      expiry.cancel(false);
      endpoint.listenTo(relay);
    }

    private void expire() {
      if (state != SpareState.READY && state != SpareState.CONNECTING) return;
      ArrayDeque<Spare> list = spares.get(address);
      if (list != null) list.remove(this);
      discard();
      counters.expired().increment();
    }

    /** Out of the list and closed. */
    private void drop() {
      ArrayDeque<Spare> list = spares.get(address);
      if (list != null) list.remove(this);
      discard();
    }

    /** Closed: the registration first, so that epoll never sees a reused descriptor. */
    private void discard() {
      if (state == SpareState.CLOSED) return;
      state = SpareState.CLOSED;
      if (expiry != null) expiry.cancel(false);
      if (registration != null) registration.cancel();
      Sockets.closeQuietly(fd);
    }
  }
}
