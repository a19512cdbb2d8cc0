package io.baton.handoff;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.LoadReport;
import io.baton.handoff.FabricMessage.Refused;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dispatcher's connection to one server agent: sends {@link Handoff}s and matches the answers,
 * and passes the server's {@link Closed} and {@link LoadReport} messages to a {@link Listener}. The
 * connection is persistent: when it drops, pending handoffs fail at once and the client reconnects
 * with exponential backoff from {@link #MIN_BACKOFF} to {@link #MAX_BACKOFF} until {@link
 * #close()}.
 *
 * <p>Thread-safe: every public method may be called from any thread and none blocks. Listener
 * callbacks and the completion of the futures this class returns run on the connection's event loop
 * thread, so they must not block (hand long work to another executor).
 */
public final class HandoffClient implements AutoCloseable {
  /**
   * Flushes a fabric connection may hold back ({@link FlushConsolidationHandler}): writes made
   * outside a read are flushed by a task at the end of the loop's turn, so several handoffs of one
   * turn share a system call; this many pending flushes force one earlier.
   */
  static final int FLUSH_LIMIT = 64;

  /** Shortest and longest wait between connection attempts. */
  public static final Duration MIN_BACKOFF = Duration.ofMillis(50);

  public static final Duration MAX_BACKOFF = Duration.ofSeconds(2);

  private static final Logger log = LoggerFactory.getLogger(HandoffClient.class);

  /** What the server tells the dispatcher besides answers. Called on the event loop. */
  public interface Listener {
    default void onClosed(Closed closed) {}

    default void onLoadReport(LoadReport report) {}

    /** A frame of the server's inventory, sent right after each session comes up. */
    default void onInventory(FabricMessage.Inventory inventory) {}

    /** The session came up (HELLO exchanged) or went down. */
    default void onConnectionState(boolean up) {}
  }

  private record Pending(long handoffId, CompletableFuture<HandoffReply> reply, Channel channel) {}

  private final EventLoopGroup group;
  private final InetSocketAddress server;
  private final String serverText;
  private final EndpointSettings settings;
  private final Listener listener;
  private final Duration connectTimeout;
  private final Liveness liveness;
  private final FabricCounters counters = new FabricCounters();
  private final java.util.concurrent.atomic.LongAdder lateReplies =
      new java.util.concurrent.atomic.LongAdder();
  private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
  // Ids grow across dispatcher restarts too (milliseconds since the epoch, shifted), so that a
  // CLOSED for a connection of an earlier run never names a handoff of this one.
  private final AtomicLong lastHandoffId = new AtomicLong(System.currentTimeMillis() << 20);
  private final CompletableFuture<Void> firstSession = new CompletableFuture<>();

  private final Object lock = new Object();
  private boolean started; // guarded by lock
  private boolean closed; // guarded by lock
  private Channel current; // connecting or connected channel; guarded by lock
  private long backoffMs = MIN_BACKOFF.toMillis(); // guarded by lock
  private ScheduledFuture<?> retry; // guarded by lock
  private volatile Channel session; // the channel whose HELLO exchange completed, or null
  private volatile long sessionNumber; // 0 while there is none; a new value for every session
  private volatile long sessionStartNs;
  private long sessionsSoFar; // guarded by lock

  /** A client with the default frame limit ({@link HandoffServer#DEFAULT_MAX_FRAME_BYTES}). */
  public HandoffClient(
      EventLoopGroup group,
      InetSocketAddress server,
      byte[] key,
      String localNodeName,
      Listener listener,
      Duration connectTimeout) {
    this(
        group,
        server,
        key,
        localNodeName,
        listener,
        connectTimeout,
        HandoffServer.DEFAULT_MAX_FRAME_BYTES);
  }

  /**
   * @param group an epoll event loop group, owned by the caller
   * @param key the cluster key, at least 32 bytes (copied)
   * @param connectTimeout limit for TCP connect and, separately, for the HELLO exchange
   * @param maxFrameBytes largest frame sent or accepted, length field included
   */
  public HandoffClient(
      EventLoopGroup group,
      InetSocketAddress server,
      byte[] key,
      String localNodeName,
      Listener listener,
      Duration connectTimeout,
      int maxFrameBytes) {
    this(
        group,
        server,
        key,
        localNodeName,
        listener,
        connectTimeout,
        maxFrameBytes,
        Liveness.DEFAULT);
  }

  /**
   * @param liveness heartbeat period and how long a silent server stays connected
   */
  public HandoffClient(
      EventLoopGroup group,
      InetSocketAddress server,
      byte[] key,
      String localNodeName,
      Listener listener,
      Duration connectTimeout,
      int maxFrameBytes,
      Liveness liveness) {
    this.liveness = Objects.requireNonNull(liveness, "liveness");
    this.group = Objects.requireNonNull(group, "group");
    this.server = Objects.requireNonNull(server, "server");
    this.serverText = FabricFrame.text(server);
    this.settings = new EndpointSettings(key, localNodeName, maxFrameBytes);
    this.listener = Objects.requireNonNull(listener, "listener");
    this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
    if (connectTimeout.isNegative() || connectTimeout.isZero()) {
      throw new IllegalArgumentException("connectTimeout must be positive: " + connectTimeout);
    }
  }

  /**
   * Starts connecting (once; later calls return the same future). The future completes when the
   * first session is established, or exceptionally if the first attempt fails; either way the
   * client keeps retrying in the background until {@link #close()}.
   */
  public CompletableFuture<Void> connect() {
    synchronized (lock) {
      if (closed) return CompletableFuture.failedFuture(closedException());
      if (!started) {
        started = true;
        attempt();
      }
    }
    return firstSession.copy();
  }

  /**
   * The established session now, as a number that is new for every session, or 0 when none is up:
   * pass it to {@link #send(Handoff, long)} to send on exactly that session.
   */
  public long session() {
    Channel ch = session;
    return ch != null && ch.isActive() ? sessionNumber : 0;
  }

  /**
   * {@link System#nanoTime} just before the current (or last) session could carry its first
   * handoff.
   */
  public long sessionStartNs() {
    return sessionStartNs;
  }

  /** Whether a session is established right now. */
  public boolean isConnected() {
    Channel ch = session;
    return ch != null && ch.isActive();
  }

  /** A fresh handoff id: increasing for this client, and across restarts of the process. */
  public long nextHandoffId() {
    return lastHandoffId.incrementAndGet();
  }

  /**
   * Sends {@code handoff} and returns its answer. The future completes exceptionally with a {@link
   * HandoffException} if the client is not connected, the id is already pending, the server does
   * not answer within {@code timeout}, or the connection drops first.
   */
  public CompletableFuture<HandoffReply> send(Handoff handoff, Duration timeout) {
    long id = handoff.handoffId();
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    CompletableFuture<HandoffReply> reply = send(handoff);
    if (reply.isDone()) return reply;
    long timeoutMs = timeout.toMillis();
    ScheduledFuture<?> timer;
    try {
      timer =
          group.schedule(
              () ->
                  forget(
                      id,
                      "server "
                          + serverText
                          + " did not answer handoff "
                          + id
                          + " within "
                          + timeoutMs
                          + " ms"),
              timeoutMs,
              TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      forget(id, "handoff " + id + ": the event loop group is shut down");
      return reply;
    }
    reply.whenComplete((r, e) -> timer.cancel(false));
    return reply;
  }

  /**
   * Sends {@code handoff}; the future completes with the server's answer, or exceptionally when the
   * client is not connected, the fabric connection is congested (a write would queue behind others:
   * such a handoff fails at once rather than waiting), the connection drops first, or {@link
   * #forget} is called. The caller owns the deadline (see {@link #abort}).
   */
  public CompletableFuture<HandoffReply> send(Handoff handoff) {
    return send(handoff, 0);
  }

  /**
   * Like {@link #send(Handoff)}, but only on session {@code expectedSession} (from {@link
   * #session()}; 0: whichever is up): if another session replaced it meanwhile, fails at once, not
   * delivered.
   */
  public CompletableFuture<HandoffReply> send(Handoff handoff, long expectedSession) {
    long id = handoff.handoffId();
    synchronized (lock) {
      if (closed)
        return failed(
            "handoff client for server " + serverText + " is closed; handoff " + id + " not sent");
    }
    Channel ch = session;
    if (ch == null || !ch.isActive()) {
      return failed("server " + serverText + " is not connected; handoff " + id + " not sent");
    }
    if (expectedSession != 0 && expectedSession != sessionNumber) {
      return failed(
          "the fabric session with server "
              + serverText
              + " was replaced; handoff "
              + id
              + " not sent");
    }
    if (!ch.isWritable()) {
      return failed(
          "fabric connection to server "
              + serverText
              + " is congested; handoff "
              + id
              + " not sent");
    }
    Pending p = new Pending(id, new CompletableFuture<>(), ch);
    if (pending.putIfAbsent(id, p) != null) {
      return failed("handoff " + id + " to server " + serverText + " is already pending");
    }
    ch.writeAndFlush(handoff)
        .addListener(
            (ChannelFuture w) -> {
              if (!w.isSuccess()) {
                // Not completely written, so the server cannot have verified the frame.
                fail(
                    p,
                    "could not send handoff "
                        + id
                        + " to server "
                        + serverText
                        + ": "
                        + w.cause().getMessage(),
                    w.cause(),
                    false);
              }
            });
    return p.reply();
  }

  /**
   * Asks the server to give up handoff {@code id}, whose answer is overdue. The future {@link
   * #send} returned stays pending: the server answers the ABORT with its decision (ACCEPTED or
   * REFUSED, even if it already sent it) or ABORTED when it never restored the connection. Returns
   * false when the ABORT could not be written (no session, or the handoff is not pending).
   */
  public boolean abort(long id) {
    Pending p = pending.get(id);
    if (p == null || !p.channel().isActive()) return false;
    p.channel().writeAndFlush(new FabricMessage.Abort(id));
    return true;
  }

  /**
   * Stops waiting for the answer to {@code id}: its future fails with a {@link HandoffException}
   * (maybe delivered) carrying {@code why}. An answer arriving later is logged and dropped.
   */
  public void forget(long id, String why) {
    Pending p = pending.get(id);
    if (p != null) fail(p, why, null, true);
  }

  /** Frames from the server that failed authentication, over all connections. */
  public long authFailures() {
    return counters.authFailures.sum();
  }

  /**
   * Answers that found no handoff waiting (repeated decisions after an ABORT, answers after a
   * give-up).
   */
  public long lateReplies() {
    return lateReplies.sum();
  }

  /** Sessions closed because the server was silent for the dead-after time. */
  public long silentPeers() {
    return counters.silentPeers.sum();
  }

  /** Frames from the server that broke the format or protocol, over all connections. */
  public long malformedFrames() {
    return counters.malformedFrames.sum();
  }

  /** Stops reconnecting, closes the connection and fails pending handoffs. Idempotent. */
  @Override
  public void close() {
    Channel ch;
    synchronized (lock) {
      if (closed) return;
      closed = true;
      if (retry != null) retry.cancel(false);
      ch = current;
    }
    firstSession.completeExceptionally(closedException());
    // Before closing the channel, so that pending handoffs learn the true reason.
    pending
        .values()
        .forEach(
            p ->
                fail(
                    p,
                    "handoff client for server "
                        + serverText
                        + " closed before handoff "
                        + p.handoffId()
                        + " was answered",
                    null,
                    true));
    if (ch != null) ch.close();
  }

  @Override
  public String toString() {
    return "HandoffClient[" + settings.nodeName() + " -> " + serverText + "]";
  }

  // ------------------------------------------------------------------ connection lifecycle

  /** Guarded by lock. */
  private void attempt() {
    retry = null;
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
            .option(ChannelOption.TCP_NODELAY, true)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    FrameDecoder decoder = new FrameDecoder();
                    // The HANDOFFs an event loop sends in one turn leave in one write (issue 8).
                    ch.pipeline().addLast(new FlushConsolidationHandler(FLUSH_LIMIT, true));
                    ch.pipeline()
                        .addLast(
                            decoder,
                            new FabricSession(
                                true,
                                settings,
                                decoder,
                                counters,
                                connectTimeout.toMillis(),
                                new SessionEvents(),
                                liveness));
                  }
                });
    ChannelFuture f = b.connect(server);
    current = f.channel();
    f.addListener(
        (ChannelFuture c) -> {
          if (c.isSuccess()) {
            c.channel().closeFuture().addListener(x -> onChannelClosed(c.channel()));
          } else {
            onConnectFailed(c.channel(), c.cause());
          }
        });
  }

  private void onConnectFailed(Channel ch, Throwable cause) {
    log.debug("cannot connect to server {}: {}", serverText, cause.toString());
    firstSession.completeExceptionally(
        new HandoffException(
            "cannot connect to server " + serverText + ": " + cause.getMessage(), cause));
    synchronized (lock) {
      if (current == ch) current = null;
    }
    scheduleRetry();
  }

  private void onChannelClosed(Channel ch) {
    boolean wasUp = session == ch;
    boolean closedByUs;
    synchronized (lock) {
      closedByUs = closed;
      if (current == ch) current = null;
    }
    if (wasUp) {
      session = null;
      if (!closedByUs) log.info("connection to server {} lost; reconnecting", serverText);
    } else {
      firstSession.completeExceptionally(
          new HandoffException(
              "server "
                  + serverText
                  + " closed the connection before the HELLO exchange completed (same cluster key on"
                  + " both sides? the server logs why)"));
    }
    pending.values().stream()
        .filter(p -> p.channel() == ch)
        .forEach(
            p ->
                fail(
                    p,
                    "connection to server "
                        + serverText
                        + " lost before it answered handoff "
                        + p.handoffId(),
                    null,
                    true));
    if (wasUp) notifyConnectionState(false);
    scheduleRetry();
  }

  private void scheduleRetry() {
    synchronized (lock) {
      if (closed) return;
      long delayMs = backoffMs;
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF.toMillis());
      try {
        retry =
            group.schedule(
                () -> {
                  synchronized (lock) {
                    if (!closed && retry != null) attempt();
                  }
                },
                delayMs,
                TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        log.warn("not reconnecting to server {}: the event loop group is shut down", serverText);
      }
    }
  }

  private void onEstablished(Channel ch) {
    synchronized (lock) {
      backoffMs = MIN_BACKOFF.toMillis();
      if (closed) return;
    }
    // Stamped before any handoff can use the session: a dispatcher judges only entries installed
    // before it by this session's inventory (which the server took before it saw any of them).
    sessionStartNs = System.nanoTime();
    synchronized (lock) {
      sessionNumber = ++sessionsSoFar;
    }
    session = ch;
    log.info("connected to server {}", serverText);
    firstSession.complete(null);
    notifyConnectionState(true);
  }

  private void onReply(HandoffReply reply) {
    Pending p = pending.remove(reply.handoffId());
    if (p == null) {
      // A second answer to an aborted handoff (the server repeats its decision), or an answer
      // after the dispatcher stopped waiting (the handoff was then settled as unknown).
      lateReplies.increment();
      log.debug(
          "server {} answered {} for handoff {}, which no longer waits for it",
          serverText,
          reply,
          reply.handoffId());
      return;
    }
    p.reply().complete(reply);
  }

  private void fail(Pending p, String message, Throwable cause, boolean maybeDelivered) {
    if (pending.remove(p.handoffId(), p)) {
      p.reply().completeExceptionally(new HandoffException(message, cause, maybeDelivered));
    }
  }

  private void notifyConnectionState(boolean up) {
    try {
      listener.onConnectionState(up);
    } catch (RuntimeException e) {
      log.warn("listener of {} failed on connection state {}", this, up, e);
    }
  }

  private HandoffException closedException() {
    return new HandoffException("handoff client for server " + serverText + " is closed");
  }

  private static CompletableFuture<HandoffReply> failed(String message) {
    return CompletableFuture.failedFuture(new HandoffException(message));
  }

  /** Session callbacks, on the event loop. */
  private final class SessionEvents implements FabricSession.Events {
    @Override
    public void onEstablished(Channel channel, String peerNode) {
      HandoffClient.this.onEstablished(channel);
    }

    @Override
    public void onMessage(Channel channel, String peerNode, FabricMessage message) {
      switch (message) {
        case Accepted a -> onReply(a);
        case Refused r -> onReply(r);
        case FabricMessage.Aborted a -> onReply(a);
        case FabricMessage.Inventory i -> listener.onInventory(i);
        case Closed c -> listener.onClosed(c);
        case LoadReport r -> listener.onLoadReport(r);
        default -> throw new IllegalStateException("session passed on " + message);
      }
    }
  }
}
