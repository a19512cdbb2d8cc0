package io.baton.handoff;

import io.baton.handoff.FabricMessage.Accepted;
import io.baton.handoff.FabricMessage.Closed;
import io.baton.handoff.FabricMessage.Handoff;
import io.baton.handoff.FabricMessage.LoadReport;
import io.baton.handoff.FabricMessage.Refused;
import io.baton.transplant.ConnectionState;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server agent's end of the fabric: accepts dispatchers' connections, passes each verified {@link
 * Handoff} to a {@link Handler} and answers ACCEPTED or REFUSED when the handler's future
 * completes, and {@link #broadcast}s {@link Closed} and {@link LoadReport} messages to every
 * connected dispatcher.
 *
 * <p>Thread-safe: public methods may be called from any thread; {@link #start()} and {@link
 * #close()} wait for the socket and must not be called on an event loop thread of the group.
 */
public final class HandoffServer implements AutoCloseable {
  /**
   * Default frame limit: a HANDOFF with two full connection-state queues ({@link
   * ConnectionState#MAX_QUEUE_BYTES} each) plus one MiB for the header and request metadata.
   */
  public static final int DEFAULT_MAX_FRAME_BYTES = 2 * ConnectionState.MAX_QUEUE_BYTES + (1 << 20);

  /**
   * The frame limit for a farm whose dispatchers read heads of up to {@code maxHeadBytes} and whose
   * kernels queue up to {@code receiveBufferBytes} unread bytes on a socket (the top of {@code
   * net.ipv4.tcp_rmem}): a HANDOFF carries the head, the unread bytes and a send queue that is
   * empty in practice (a dispatcher writes nothing before it hands off), so anything bigger is not
   * a handoff. 64 KiB cover the state's header, the strings and the MAC; at least {@link
   * EndpointSettings#MIN_FRAME_BYTES}, at most {@link #DEFAULT_MAX_FRAME_BYTES}. Checked against
   * the length field, before a frame is buffered.
   */
  public static int frameLimitFor(int maxHeadBytes, long receiveBufferBytes) {
    long limit = 64L * 1024 + maxHeadBytes + Math.max(0, receiveBufferBytes);
    return (int)
        Math.min(DEFAULT_MAX_FRAME_BYTES, Math.max(EndpointSettings.MIN_FRAME_BYTES, limit));
  }

  /** How long a new connection may take to send a valid HELLO. */
  public static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);

  private static final Logger log = LoggerFactory.getLogger(HandoffServer.class);
  private static final Duration SOCKET_WAIT = Duration.ofSeconds(10);

  /** Decides on handoffs. Called on an event loop thread: must not block. */
  public interface Handler {
    /**
     * Take over the connection in {@code handoff}, sent by dispatcher {@code fromNode}. The server
     * answers when the future completes: {@link Accepted} or {@link Refused} (the id in the reply
     * is ignored; the answer carries the request's id); an exceptional completion, a thrown
     * exception or a null future becomes REFUSED with the exception's message.
     */
    CompletableFuture<HandoffReply> onHandoff(Handoff handoff, String fromNode);

    /**
     * Dispatcher {@code fromNode} gave up waiting for handoff {@code handoffId} (called after the
     * answer to that handoff was sent, on the same connection). Answer {@link Accepted} if this
     * node owns (or owned) that connection, else {@link FabricMessage.Aborted}; a node that answers
     * ABORTED must never come to own it.
     */
    default HandoffReply onAbort(long handoffId, String fromNode) {
      return new FabricMessage.Aborted(handoffId);
    }

    /** The connections that {@code fromNode} handed to this node and that are still open. */
    default java.util.List<FabricMessage.Owned> inventory(String fromNode) {
      return java.util.List.of();
    }
  }

  private final EventLoopGroup group;
  private final InetSocketAddress bind;
  private final EndpointSettings settings;
  private final Handler handler;
  private final Liveness liveness;
  private volatile java.util.function.Predicate<InetSocketAddress> peers = a -> true;
  private final FabricCounters counters = new FabricCounters();
  private final LongAdder handoffsReceived = new LongAdder();

  /** Established sessions and the dispatcher node at the other end of each. */
  private final java.util.Map<Channel, String> sessions = new ConcurrentHashMap<>();

  private final Object lock = new Object();
  private Channel listener; // guarded by lock
  private boolean closed; // guarded by lock

  /** A server with the default frame limit ({@link #DEFAULT_MAX_FRAME_BYTES}). */
  public HandoffServer(
      EventLoopGroup group,
      InetSocketAddress bind,
      byte[] key,
      String localNodeName,
      Handler handler) {
    this(group, bind, key, localNodeName, handler, DEFAULT_MAX_FRAME_BYTES);
  }

  /**
   * @param group an epoll event loop group, owned by the caller
   * @param bind where to listen; port 0 picks a free port ({@link #localAddress()})
   * @param key the cluster key, at least 32 bytes (copied)
   * @param maxFrameBytes largest frame sent or accepted, length field included
   */
  public HandoffServer(
      EventLoopGroup group,
      InetSocketAddress bind,
      byte[] key,
      String localNodeName,
      Handler handler,
      int maxFrameBytes) {
    this(group, bind, key, localNodeName, handler, maxFrameBytes, Liveness.DEFAULT);
  }

  /**
   * @param liveness heartbeat period and how long a silent dispatcher stays connected
   */
  public HandoffServer(
      EventLoopGroup group,
      InetSocketAddress bind,
      byte[] key,
      String localNodeName,
      Handler handler,
      int maxFrameBytes,
      Liveness liveness) {
    this.liveness = Objects.requireNonNull(liveness, "liveness");
    this.group = Objects.requireNonNull(group, "group");
    this.bind = Objects.requireNonNull(bind, "bind");
    this.settings = new EndpointSettings(key, localNodeName, maxFrameBytes);
    this.handler = Objects.requireNonNull(handler, "handler");
  }

  /**
   * Accepts fabric connections only from addresses {@code allowed} accepts (checked before any byte
   * is read); others are closed and counted. Everyone by default. Call before {@link #start}.
   */
  public void allowPeers(java.util.function.Predicate<InetSocketAddress> allowed) {
    this.peers = Objects.requireNonNull(allowed, "allowed");
  }

  /** Sessions closed because the dispatcher was silent for the dead-after time. */
  public long silentPeers() {
    return counters.silentPeers.sum();
  }

  /** Fabric connections refused because of their source address. */
  public long refusedPeers() {
    return counters.refusedPeers.sum();
  }

  /** Binds and starts accepting dispatchers. */
  public void start() throws HandoffException {
    synchronized (lock) {
      if (closed) throw new HandoffException("handoff server " + this + " is closed");
      if (listener != null) throw new IllegalStateException(this + " already started");
      ChannelFuture f =
          new ServerBootstrap()
              .group(group)
              .channel(EpollServerSocketChannel.class)
              // Restart on the same port while old connections sit in TIME_WAIT.
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childHandler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      var remote = (InetSocketAddress) ch.remoteAddress();
                      if (!peers.test(remote)) {
                        counters.refusedPeers.increment();
                        log.warn(
                            "refusing fabric connection from {}: not a configured dispatcher address",
                            FabricFrame.text(remote));
                        ch.close();
                        return;
                      }
                      FrameDecoder decoder = new FrameDecoder();
                      // The answers and CLOSED reports of one loop turn leave in one write (issue
                      // 8).
                      ch.pipeline()
                          .addLast(new FlushConsolidationHandler(HandoffClient.FLUSH_LIMIT, true));
                      ch.pipeline()
                          .addLast(
                              decoder,
                              new FabricSession(
                                  false,
                                  settings,
                                  decoder,
                                  counters,
                                  HELLO_TIMEOUT.toMillis(),
                                  new SessionEvents(),
                                  liveness));
                    }
                  })
              .bind(bind);
      if (!f.awaitUninterruptibly(SOCKET_WAIT.toMillis()) || !f.isSuccess()) {
        f.channel().close();
        Throwable cause = f.cause();
        throw new HandoffException(
            "cannot listen for handoffs on "
                + FabricFrame.text(bind)
                + ": "
                + (cause == null ? "bind timed out" : cause.getMessage()),
            cause);
      }
      listener = f.channel();
    }
    log.info(
        "handoff server {} listening on {}", settings.nodeName(), FabricFrame.text(localAddress()));
  }

  /** The address listened on (with the real port when bound to port 0). */
  public InetSocketAddress localAddress() {
    synchronized (lock) {
      if (listener == null) throw new IllegalStateException(this + " is not started");
      return (InetSocketAddress) listener.localAddress();
    }
  }

  /**
   * Sends a {@link Closed} or {@link LoadReport} to every dispatcher with an established session.
   * Best effort: a dispatcher that is not connected misses it.
   */
  public void broadcast(FabricMessage message) {
    if (!(message instanceof Closed || message instanceof LoadReport)) {
      throw new IllegalArgumentException("only CLOSED and LOAD_REPORT are broadcast: " + message);
    }
    for (Channel ch : sessions.keySet()) ch.writeAndFlush(message);
  }

  /**
   * Sends {@code message} to dispatcher {@code node} on every session with it; false when there is
   * none (the next session's inventory then tells the dispatcher what it missed).
   */
  public boolean sendTo(String node, FabricMessage message) {
    boolean sent = false;
    for (var e : sessions.entrySet()) {
      if (e.getValue().equals(node)) {
        e.getKey().writeAndFlush(message);
        sent = true;
      }
    }
    return sent;
  }

  /** Dispatchers with an established session right now. */
  public int connectedDispatchers() {
    return sessions.size();
  }

  /** Verified HANDOFF messages passed to the handler. */
  public long handoffsReceived() {
    return handoffsReceived.sum();
  }

  /** Frames that failed authentication (MAC or sequence), over all connections. */
  public long authFailures() {
    return counters.authFailures.sum();
  }

  /** Frames that broke the wire format or the protocol, over all connections. */
  public long malformedFrames() {
    return counters.malformedFrames.sum();
  }

  /** Stops listening and closes every dispatcher connection. Idempotent. */
  @Override
  public void close() {
    Channel ch;
    synchronized (lock) {
      if (closed) return;
      closed = true;
      ch = listener;
    }
    if (ch != null) ch.close().awaitUninterruptibly(SOCKET_WAIT.toMillis());
    for (Channel s : sessions.keySet()) s.close().awaitUninterruptibly(SOCKET_WAIT.toMillis());
  }

  @Override
  public String toString() {
    return "HandoffServer[" + settings.nodeName() + " on " + FabricFrame.text(bind) + "]";
  }

  /** A handoff whose decision is not made yet, on the session it came on. */
  private record Undecided(Channel channel, long handoffId) {}

  // Decisions still being made, so that an ABORT crossing one waits for it: answering ABORTED
  // while a restore is under way would make two owners. Entries leave when the decision is made.
  private final java.util.Map<Undecided, CompletableFuture<HandoffReply>> undecided =
      new ConcurrentHashMap<>();

  private void onHandoff(Channel ch, String fromNode, Handoff h) {
    handoffsReceived.increment();
    log.debug("handoff {} from {}: {}", h.handoffId(), fromNode, h);
    CompletableFuture<HandoffReply> decision;
    try {
      decision = handler.onHandoff(h, fromNode);
      if (decision == null) throw new IllegalStateException("handler returned no future");
    } catch (RuntimeException e) {
      decision = CompletableFuture.failedFuture(e);
    }
    Undecided key = new Undecided(ch, h.handoffId());
    if (!decision.isDone()) {
      undecided.put(key, decision);
      ch.closeFuture().addListener(f -> undecided.remove(key));
    }
    decision.whenComplete(
        (reply, error) -> {
          undecided.remove(key);
          FabricMessage answer = answer(h.handoffId(), reply, error);
          ch.writeAndFlush(answer)
              .addListener(
                  (ChannelFuture w) -> {
                    if (!w.isSuccess()) {
                      log.warn(
                          "could not answer handoff {} from {} with {}: {}",
                          h.handoffId(),
                          fromNode,
                          answer,
                          w.cause().getMessage());
                    }
                  });
        });
  }

  private void onAbort(Channel ch, String fromNode, FabricMessage.Abort abort) {
    CompletableFuture<HandoffReply> pending = undecided.get(new Undecided(ch, abort.handoffId()));
    if (pending != null) {
      // The decision is under way: its answer (sent when it is made) settles the abort too.
      log.debug(
          "dispatcher {} aborted handoff {} while it is being decided",
          fromNode,
          abort.handoffId());
      return;
    }
    HandoffReply reply;
    try {
      reply = handler.onAbort(abort.handoffId(), fromNode);
    } catch (RuntimeException e) {
      log.warn("handler failed on ABORT of handoff {} from {}", abort.handoffId(), fromNode, e);
      return; // no answer: the dispatcher's deadline decides
    }
    log.debug("dispatcher {} aborted handoff {}: answering {}", fromNode, abort.handoffId(), reply);
    ch.writeAndFlush(reply);
  }

  private void sendInventory(Channel ch, String dispatcherNode) {
    java.util.List<FabricMessage.Owned> owned;
    try {
      owned = handler.inventory(dispatcherNode);
    } catch (RuntimeException e) {
      // Without an inventory the dispatcher cannot settle its entries: close, it reconnects.
      log.warn(
          "cannot list the connections of dispatcher {}; closing the session", dispatcherNode, e);
      ch.close();
      return;
    }
    int n = owned.size();
    int from = 0;
    do {
      int to = Math.min(n, from + FabricMessage.MAX_INVENTORY_ENTRIES);
      ch.write(new FabricMessage.Inventory(owned.subList(from, to), to == n));
      from = to;
    } while (from < n);
    ch.flush();
    log.info("sent dispatcher {} the inventory of its {} open connections", dispatcherNode, n);
  }

  private static FabricMessage answer(long id, HandoffReply reply, Throwable error) {
    return switch (reply) {
      case Accepted _ when error == null -> new Accepted(id);
      case Refused r when error == null -> new Refused(id, r.reason());
      case FabricMessage.Aborted _ when error == null -> new FabricMessage.Aborted(id);
      case null, default -> new Refused(id, reasonOf(error));
    };
  }

  private static String reasonOf(Throwable error) {
    if (error == null) return "handler answered null";
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    String reason = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    return FabricMessageCodec.fitUtf8(reason, FabricMessage.MAX_REASON_BYTES);
  }

  /** Session callbacks, on the event loop. */
  private final class SessionEvents implements FabricSession.Events {
    @Override
    public void onEstablished(Channel channel, String peerNode) {
      sessions.put(channel, peerNode);
      channel
          .closeFuture()
          .addListener(
              f -> {
                sessions.remove(channel);
              });
      log.info(
          "dispatcher {} connected from {}", peerNode, FabricFrame.text(channel.remoteAddress()));
      // After our HELLO, which is written when this callback returns.
      channel.eventLoop().execute(() -> sendInventory(channel, peerNode));
    }

    @Override
    public void onMessage(Channel channel, String peerNode, FabricMessage message) {
      if (message instanceof Handoff h) {
        onHandoff(channel, peerNode, h);
      } else if (message instanceof FabricMessage.Abort a) {
        onAbort(channel, peerNode, a);
      } else {
        throw new IllegalStateException("session passed on " + message);
      }
    }
  }
}
