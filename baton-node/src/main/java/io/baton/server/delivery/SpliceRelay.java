package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.TcpInfo;
import io.baton.migration.SafePoint;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One relayed connection: the restored client socket, a socket to the local upstream server and two
 * {@link SplicePump}s between them, driven by one Netty epoll event loop.
 *
 * <p>Life: {@link #start} connects to the upstream (non-blocking) and registers both sockets; once
 * connected the pumps run on every readiness edge. A FIN from either side is forwarded as a write
 * shutdown to the other once everything before it has been delivered; when both directions have
 * finished, or on the first error, both sockets and pipes are closed and the close listener gets
 * the byte counts. So they are too when no byte has moved either way for the idle timeout
 * (counted), checked by a timer that re-arms itself for the time still left.
 *
 * <p>Confined to its event loop: every method runs there ({@link #start} is submitted to it).
 */
final class SpliceRelay implements RelayEndpoint.Listener {
  private static final Logger log = LoggerFactory.getLogger(SpliceRelay.class);

  /** Bytes one direction may move per wakeup before other connections on the loop get a turn. */
  static final long BUDGET_BYTES = 4L * 1024 * 1024;

  private enum State {
    NEW,
    CONNECTING,
    RELAYING,
    SUSPENDED,
    CLOSED
  }

  private final IoEventLoop loop;
  private final int clientFd;
  private final byte[] unsentTail;
  private final UpstreamChooser chooser;

  /** This loop's connections opened ahead; null when the delivery opens none. */
  private final PreconnectedUpstreams preconnected;

  /** This loop's spare pipes; each pump's pipe is leased from it and given back at the end. */
  private final PipePool pipes;

  private PipePool.Lease upstreamPipe;
  private PipePool.Lease clientPipe;

  /** Upstreams whose connect failed for this connection; the chooser skips them. */
  private final java.util.Set<UpstreamChooser.Upstream> tried = new java.util.HashSet<>();

  /** The upstream of this attempt; null before the first choice or when none was left. */
  private UpstreamChooser.Upstream upstream;

  private final long connectTimeoutMs;
  private final long idleTimeoutNs;
  private final LongAdder idleClosed;
  private final OwedAck owedAck;
  private final ConnectionInfo info;
  private final CloseListener onClosed;

  /** Shared by the two directions' framings; null when the relay does not follow HTTP. */
  private final HttpFraming.Exchanges exchanges;

  private Promise<SafePoint> pendingSuspend;
  private boolean forcing;

  private State state = State.NEW;
  private int upstreamFd = -1;
  private SplicePump toUpstream;
  private SplicePump toClient;
  private IoRegistration clientRegistration;
  private IoRegistration upstreamRegistration;
  private Future<?> connectTimer;
  private Future<?> idleTimer;
  private long lastActivityNs;

  /** The client's bytes are not acknowledged yet; the first idle check looks ({@link OwedAck}). */
  private boolean ackOwed;

  private boolean pumpScheduled;
  private boolean refilled;

  SpliceRelay(
      IoEventLoop loop,
      int clientFd,
      byte[] unsentTail,
      UpstreamChooser chooser,
      PreconnectedUpstreams preconnected,
      PipePool pipes,
      long connectTimeoutMs,
      long idleTimeoutNs,
      LongAdder idleClosed,
      OwedAck owedAck,
      ConnectionInfo info,
      CloseListener onClosed,
      boolean followHttp) {
    this.exchanges = followHttp ? new HttpFraming.Exchanges() : null;
    this.loop = loop;
    this.clientFd = clientFd;
    this.unsentTail = unsentTail;
    this.chooser = chooser;
    this.preconnected = preconnected;
    this.pipes = pipes;
    this.connectTimeoutMs = connectTimeoutMs;
    this.idleTimeoutNs = idleTimeoutNs;
    this.idleClosed = idleClosed;
    this.owedAck = owedAck;
    this.ackOwed = info.ackOwed() && unsentTail.length == 0;
    this.info = info;
    this.onClosed = onClosed;
  }

  /** Registers the client and starts connecting to an upstream. Runs on the event loop. */
  void start() {
    try {
      Sockets.setNonBlocking(clientFd, true);
      state = State.CONNECTING;
      lastActivityNs = System.nanoTime();
      // The idle timer looks first at an owed ACK: no task more per connection.
      long first = ackOwed ? Math.min(OwedAck.DELAY_NS, idleTimeoutNs) : idleTimeoutNs;
      idleTimer = loop.schedule(this::checkIdle, first, TimeUnit.NANOSECONDS);
      clientRegistration = register(clientFd);
    } catch (LinuxException e) {
      abort("could not start: " + e.getMessage());
      return;
    } catch (RuntimeException e) { // e.g. epoll_ctl failing inside Netty
      abort("could not start: " + e);
      return;
    }
    connectUpstream();
  }

  /**
   * Opens the pipes and a socket to the chooser's next upstream and starts connecting; with no
   * upstream left, closes the connection.
   */
  private void connectUpstream() {
    upstream = chooser.choose(tried);
    if (upstream == null) {
      log.warn(
          "relay of {}: no upstream can take it ({} tried); closing the client connection",
          info,
          tried);
      close();
      return;
    }
    InetSocketAddress address = upstream.address();
    PreconnectedUpstreams.Taken ahead =
        preconnected == null ? null : preconnected.take(address, this);
    try {
      if (ahead != null) {
        upstreamFd = ahead.fd();
        upstreamRegistration = ahead.registration();
      } else {
        upstreamFd = Sockets.tcpSocketFor(address.getAddress(), true);
      }
      upstreamPipe = pipes.take();
      toUpstream =
          new SplicePump(
              clientFd,
              upstreamFd,
              upstreamPipe.pipe(),
              upstreamPipe.capacity(),
              new byte[0],
              exchanges == null ? null : HttpFraming.requests(exchanges));
      clientPipe = pipes.take();
      toClient =
          new SplicePump(
              upstreamFd,
              clientFd,
              clientPipe.pipe(),
              clientPipe.capacity(),
              unsentTail,
              exchanges == null ? null : HttpFraming.responses(exchanges));
      if (ahead != null) {
        // Connected before this client came: its EPOLLOUT edge is spent, so pump now.
        onConnected();
        return;
      }
      boolean connected = Sockets.connect(upstreamFd, address);
      upstreamRegistration = register(upstreamFd);
      if (connected) {
        onConnected();
      } else {
        connectTimer =
            loop.schedule(
                () -> connectFailed("no answer within " + connectTimeoutMs + " ms"),
                connectTimeoutMs,
                TimeUnit.MILLISECONDS);
      }
    } catch (LinuxException e) {
      if (e.call().startsWith("connect")) {
        connectFailed(e.getMessage());
      } else {
        abort("could not start: " + e.getMessage());
      }
    } catch (RuntimeException e) { // e.g. epoll_ctl failing inside Netty
      abort("could not start: " + e);
    }
  }

  private IoRegistration register(int fd) throws LinuxException {
    Future<IoRegistration> f = loop.register(new RelayEndpoint(fd, this));
    if (!f.isSuccess()) { // on the loop itself registration completes at once
      throw new LinuxException("epoll register(fd " + fd + ")", String.valueOf(f.cause()));
    }
    IoRegistration registration = f.getNow();
    registration.submit(RelayEndpoint.INTEREST);
    return registration;
  }

  @Override
  public void onReady(RelayEndpoint endpoint, EpollIoOps ops) {
    try {
      dispatch(endpoint, ops);
    } catch (RuntimeException e) { // never let a bug leave the sockets open
      log.warn("relay of {} failed unexpectedly; closing it", info, e);
      close();
    }
  }

  private void dispatch(RelayEndpoint endpoint, EpollIoOps ops) {
    switch (state) {
      case CONNECTING -> {
        if (endpoint.intFd() == upstreamFd) checkConnect(ops);
        // Client events wait: the first pump after connecting reads whatever is queued.
      }
      case RELAYING -> {
        if (ops.contains(EpollIoOps.EPOLLERR) && failedSocket(endpoint.intFd())) return;
        pumpAll();
      }
      case SUSPENDED -> {
        // At the safe point nothing moves: the client's next bytes stay queued in its socket and
        // travel with it. An error still ends the connection.
        if (ops.contains(EpollIoOps.EPOLLERR)) failedSocket(endpoint.intFd());
      }
      case NEW, CLOSED -> {}
    }
  }

  private void checkConnect(EpollIoOps ops) {
    try {
      int err = Sockets.getInt(upstreamFd, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR");
      if (err != 0) {
        connectFailed(
            new LinuxException("connect(" + hostPort(upstream.address()) + ")", err).getMessage());
      } else if (ops.contains(EpollIoOps.EPOLLOUT)) {
        onConnected();
      }
    } catch (LinuxException e) {
      connectFailed(e.getMessage());
    }
  }

  private void onConnected() {
    if (connectTimer != null) connectTimer.cancel(false);
    upstream.connected();
    state = State.RELAYING;
    pumpAll();
  }

  /**
   * The connect to this attempt's upstream failed before a byte moved: the chooser hears of it and
   * the relay tries another upstream, or closes the client connection if none is left.
   */
  private void connectFailed(String why) {
    if (state != State.CONNECTING) return;
    UpstreamChooser.Upstream failed = upstream;
    upstream = null;
    failed.failed(why);
    tried.add(failed);
    log.warn("relay of {} to upstream {} failed: {}", info, failed, why);
    if (connectTimer != null) connectTimer.cancel(false);
    connectTimer = null;
    if (upstreamRegistration != null) upstreamRegistration.cancel();
    upstreamRegistration = null;
    Sockets.closeQuietly(upstreamFd);
    upstreamFd = -1;
    givePipesBack();
    toUpstream = null;
    toClient = null;
    connectUpstream();
  }

  /** True (and the relay aborted) when the socket carries a pending error, e.g. a reset. */
  private boolean failedSocket(int fd) {
    try {
      int err = Sockets.getInt(fd, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR");
      if (err == 0) return false;
      String side = fd == clientFd ? "client" : "upstream";
      abort(side + " socket: " + new LinuxException("socket", err).getMessage());
    } catch (LinuxException e) {
      abort(e.getMessage());
    }
    return true;
  }

  private void pumpAll() {
    try {
      long movedBefore = movedBytes();
      SplicePump.Progress up = toUpstream.pump(BUDGET_BYTES);
      SplicePump.Progress down = toClient.pump(BUDGET_BYTES);
      if (movedBytes() != movedBefore) {
        lastActivityNs = System.nanoTime();
        if (!refilled && toClient.bytesOut() > 0) refillAhead();
      }
      if (up == SplicePump.Progress.FINISHED && down == SplicePump.Progress.FINISHED) {
        close();
        return;
      }
      if (pendingSuspend != null) checkSafePoint();
      if (state != State.RELAYING) return;
      if ((up == SplicePump.Progress.BUDGET_SPENT || down == SplicePump.Progress.BUDGET_SPENT)
          && !pumpScheduled) {
        // Edge-triggered: no new edge will come for bytes already waiting, so come back ourselves.
        pumpScheduled = true;
        loop.execute(this::pumpAgain);
      }
    } catch (LinuxException e) {
      abort(e.getMessage());
    }
  }

  /**
   * Opens the next connection ahead to this upstream, from a task after this turn, once: when the
   * answer has started to reach the client (or the connection ends without one). Not at the start:
   * the upstream, the relay and often the client share CPUs, and a connect then would run between
   * this request and its answer.
   */
  private void refillAhead() {
    refilled = true;
    if (preconnected == null || upstream == null || loop.isShuttingDown()) return;
    InetSocketAddress address = upstream.address();
    loop.execute(() -> preconnected.fill(address));
  }

  /** Bytes taken in and handed out, both directions: any change is traffic. */
  private long movedBytes() {
    return toUpstream.bytesIn() + toUpstream.bytesOut() + toClient.bytesIn() + toClient.bytesOut();
  }

  /** Closes the connection when nothing has moved for the idle timeout, else re-arms. */
  private void checkIdle() {
    if (state == State.CLOSED) return;
    if (ackOwed) {
      ackOwed = false;
      if (state != State.SUSPENDED)
        owedAck.sendIfSilent(clientFd, info.owedAck(), info); // not while moving
    }
    long idleNs = System.nanoTime() - lastActivityNs;
    if (idleNs >= idleTimeoutNs) {
      idleClosed.increment();
      log.debug("relay of {} idle for {} ms; closing it", info, idleNs / 1_000_000);
      close();
    } else {
      idleTimer = loop.schedule(this::checkIdle, idleTimeoutNs - idleNs, TimeUnit.NANOSECONDS);
    }
  }

  private void pumpAgain() {
    pumpScheduled = false;
    if (state == State.RELAYING) pumpAll();
  }

  /** The relay as a live migration moves it; every method but {@code loop} runs on the loop. */
  Movable movable() {
    return new Movable() {
      @Override
      public io.netty.util.concurrent.EventExecutor loop() {
        return loop;
      }

      @Override
      public int fd() {
        return clientFd;
      }

      @Override
      public boolean isOpen() {
        return state != State.CLOSED;
      }

      @Override
      public long bytesIn() {
        SplicePump p = toUpstream;
        return p == null ? 0 : p.bytesIn();
      }

      @Override
      public long bytesOut() {
        SplicePump p = toClient;
        return p == null ? 0 : p.bytesOut();
      }

      @Override
      public void suspend(Promise<SafePoint> point) {
        SpliceRelay.this.suspend(point);
      }

      @Override
      public void forceSuspend(Promise<SafePoint> point) {
        SpliceRelay.this.forceSuspend(point);
      }

      @Override
      public void resume() {
        SpliceRelay.this.resume();
      }

      @Override
      public void close() {
        SpliceRelay.this.close();
      }

      @Override
      public void reset() {
        try {
          Sockets.setLingerReset(clientFd);
        } catch (LinuxException e) {
          log.debug("relay of {}: could not arm a reset on close: {}", info, e.getMessage());
        }
        SpliceRelay.this.close();
      }
    };
  }

  /**
   * Stops at the next request boundary: the request being relayed is fully forwarded, every
   * forwarded request fully answered and the answers in the client socket's send queue (which moves
   * with the socket), and the next request, if any, still unread in the client socket. The upstream
   * connection is not carried: the target opens its own.
   */
  private void suspend(Promise<SafePoint> point) {
    String why =
        exchanges == null
            ? "this relay does not follow HTTP (its VIP is in tls or l4 mode), so it has no safe point"
            : notSuspendable();
    if (why == null) why = unmovable();
    if (why != null) {
      point.tryFailure(new IllegalStateException(why));
      return;
    }
    pendingSuspend = point;
    toUpstream.holdAtBoundary(true);
    pumpAll();
  }

  /**
   * A forced move: an HTTP relay that can still reach its safe point waits for it; otherwise the
   * relay stops taking bytes from either side, delivers what it took, and stops. The upstream
   * connection and whatever it was in the middle of stay behind.
   */
  private void forceSuspend(Promise<SafePoint> point) {
    if (exchanges != null && state == State.RELAYING && unmovable() == null) {
      suspend(point);
      return;
    }
    String why = notSuspendable();
    if (why != null) {
      point.tryFailure(new IllegalStateException(why));
      return;
    }
    pendingSuspend = point;
    forcing = true;
    toUpstream.stopTaking(true);
    toClient.stopTaking(true);
    pumpAll();
  }

  /** Why the relay cannot stop now whatever it relays (its state, a move under way), or null. */
  private String notSuspendable() {
    return switch (state) {
      case NEW, CONNECTING -> "the relay is still connecting to its upstream";
      case CLOSED -> "the connection is closed";
      case SUSPENDED -> "the connection is already suspended";
      case RELAYING ->
          pendingSuspend != null ? "a move of this connection is already in progress" : null;
    };
  }

  /** Why the HTTP exchange on this connection cannot move, or null. */
  private String unmovable() {
    String why = toUpstream.framing().unmovable();
    return why != null ? why : toClient.framing().unmovable();
  }

  private void checkSafePoint() {
    if (forcing) {
      if (toUpstream.drained() && toClient.drained()) reachedSafePoint();
      return;
    }
    String why = unmovable();
    if (why == null && (toUpstream.sourceEnded() || toClient.sourceEnded())) {
      why =
          "the connection is closing ("
              + (toUpstream.sourceEnded() ? "the client" : "the upstream")
              + " sent its FIN)";
    }
    if (why != null) {
      Promise<SafePoint> p = pendingSuspend;
      pendingSuspend = null;
      toUpstream.holdAtBoundary(false);
      p.tryFailure(new IllegalStateException(why));
      return;
    }
    if (toUpstream.drainedAtBoundary()
        && toClient.drainedAtBoundary()
        && exchanges.answers() == exchanges.requests()) {
      reachedSafePoint();
    }
  }

  /** Stops relaying and tells the move; nothing to carry (the unread bytes are in the socket). */
  private void reachedSafePoint() {
    state = State.SUSPENDED;
    Promise<SafePoint> p = pendingSuspend;
    pendingSuspend = null;
    if (!p.trySuccess(SafePoint.EMPTY)) resume();
  }

  private void resume() {
    Promise<SafePoint> p = pendingSuspend;
    pendingSuspend = null;
    if (p != null) p.tryFailure(new IllegalStateException("resumed"));
    forcing = false;
    if (toUpstream != null) {
      toUpstream.holdAtBoundary(false);
      toUpstream.stopTaking(false);
      toClient.stopTaking(false);
    }
    if (state == State.SUSPENDED) {
      state = State.RELAYING;
      pumpAll();
    }
  }

  private void abort(String why) {
    if (state == State.CLOSED) return;
    // Resets and broken pipes are how many connections end; not worth more than DEBUG.
    log.debug("relay of {} ended early: {}", info, why);
    close();
  }

  @Override
  public void onEventLoopClosing() {
    close();
  }

  /** Cancels the registrations before closing, so epoll never sees a reused descriptor. */
  private void close() {
    if (state == State.CLOSED) return;
    state = State.CLOSED;
    if (pendingSuspend != null) {
      pendingSuspend.tryFailure(new IllegalStateException("the connection closed"));
      pendingSuspend = null;
    }
    if (!refilled) refillAhead();
    if (connectTimer != null) connectTimer.cancel(false);
    if (idleTimer != null) idleTimer.cancel(false);
    if (clientRegistration != null) clientRegistration.cancel();
    if (upstreamRegistration != null) upstreamRegistration.cancel();
    Sockets.closeQuietly(upstreamFd);
    boolean kernelDone = kernelDone();
    Sockets.closeQuietly(clientFd);
    if (upstream != null) upstream.released();
    long fromClient = 0;
    long toClientBytes = 0;
    if (toUpstream != null) fromClient = toUpstream.bytesIn();
    if (toClient != null) toClientBytes = toClient.bytesOut();
    givePipesBack();
    onClosed.onClosed(fromClient, toClientBytes, kernelDone);
  }

  /**
   * Whether the kernel is done with the client's connection before the close: in close mode the
   * relay usually ends on the client's FIN after its own FIN was acknowledged, so the connection
   * has passed to TIME_WAIT already (the socket shows CLOSE) and the close can be reported without
   * watching the socket drain. One getsockopt; false when it fails.
   */
  private boolean kernelDone() {
    try {
      return TcpInfo.stateOf(clientFd) == TcpInfo.STATE_CLOSE;
    } catch (LinuxException e) {
      return false;
    }
  }

  /** Each pipe back to the loop's pool: for reuse if it is empty, else to be closed. */
  private void givePipesBack() {
    if (upstreamPipe != null) {
      pipes.giveBack(upstreamPipe, toUpstream == null || toUpstream.pipeEmpty());
    }
    if (clientPipe != null) pipes.giveBack(clientPipe, toClient == null || toClient.pipeEmpty());
    upstreamPipe = null;
    clientPipe = null;
  }

  private static String hostPort(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  @Override
  public String toString() {
    return "SpliceRelay["
        + info
        + " -> "
        + (upstream == null ? "(none)" : hostPort(upstream.address()))
        + ", "
        + state
        + "]";
  }
}
