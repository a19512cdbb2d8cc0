package io.baton.server;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffReply;
import io.baton.handoff.HandoffServer;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.log.RateLimitedLog;
import io.baton.server.delivery.CloseListener;
import io.baton.server.delivery.ConnectionInfo;
import io.baton.server.delivery.Delivery;
import io.baton.transplant.ConnectionRestorer;
import io.baton.transplant.ConnectionState;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.StateFormatException;
import io.baton.transplant.TransplantException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides on the handoffs a server receives and carries out the accepted ones: refuses corrupt
 * states, untrusted client addresses, VIP ports it does not serve and connections over its limit;
 * restores the rest and gives them to their delivery; remembers which dispatcher and handoff
 * brought each connection ({@link OwnedConnections}), which answers ABORTs and inventories, and
 * reports each close (CLOSED) to the dispatcher that handed the connection over.
 *
 * <p>Thread-safe: called on fabric event loops; counters are atomic and the registry is locked.
 */
final class HandoffAcceptor implements HandoffServer.Handler {
  private static final Logger log = LoggerFactory.getLogger(HandoffAcceptor.class);
  private static final RateLimitedLog refusedLog = new RateLimitedLog(log, "refused handoff", 10);

  /** A restore this slow holds up its fabric loop (and the loop's heartbeats): worth a WARN. */
  private static final long SLOW_RESTORE_MS = 100;

  private final String nodeName;
  private final Map<String, Delivery> deliveries;
  private final int maxConnections;
  private final AtomicInteger active;
  private final ClientAddressPolicy clients;
  private final BiConsumer<String, FabricMessage.Closed> closedTo;

  /** Connections served here without a handoff (peer mode), for the inventory. */
  volatile java.util.function.Supplier<List<FabricMessage.Owned>> alsoOwned = List::of;

  /** Who else hears of opened and closed connections (the sync plane, for every dispatcher). */
  volatile OwnershipListener ownership = OwnershipListener.NONE;

  private final OwnedConnections owned = new OwnedConnections();
  final LiveConnections live = new LiveConnections();

  /**
   * When the kernel is done with a connection the application closed: only then is its close
   * reported (the dispatchers forward the client's packets until then).
   */
  volatile KernelRelease release = KernelRelease.IMMEDIATE;

  /** Told of every connection restored here (live migration's loop guard). */
  volatile java.util.function.Consumer<io.baton.transplant.FlowKey> onRestored = f -> {};

  final AtomicLong accepted = new AtomicLong();
  final AtomicLong closed = new AtomicLong();

  /**
   * Closes reported as they happened: the delivery saw the kernel already done with the socket
   * (e.g. a relayed connection ending on the client's FIN), so no drain watch was needed.
   */
  final LongAdder closedAtOnce = new LongAdder();

  final AtomicLong refused = new AtomicLong();
  final AtomicLong lateAborts = new AtomicLong();
  final AtomicLong untrusted = new AtomicLong();

  /**
   * @param active connections this node serves, shared with peer-mode delivery (one limit)
   * @param closedTo sends a CLOSED to the named dispatcher
   */
  HandoffAcceptor(
      String nodeName,
      Map<String, Delivery> deliveries,
      int maxConnections,
      AtomicInteger active,
      ClientAddressPolicy clients,
      BiConsumer<String, FabricMessage.Closed> closedTo) {
    this.nodeName = nodeName;
    this.deliveries = Map.copyOf(deliveries);
    this.maxConnections = maxConnections;
    this.active = active;
    this.clients = clients;
    this.closedTo = closedTo;
  }

  /** Moves of a flow away from this node that are still settling (live migration). */
  volatile java.util.function.Function<io.baton.transplant.FlowKey, CompletableFuture<?>> settling =
      f -> null;

  volatile java.util.function.BooleanSupplier anyMoving = () -> false;

  @Override
  public CompletableFuture<HandoffReply> onHandoff(FabricMessage.Handoff handoff, String from) {
    CompletableFuture<?> away = null;
    if (anyMoving.getAsBoolean()) { // rare: decode the state only then
      try {
        away = settling.apply(ConnectionStateCodec.decode(handoff.state()).flow());
      } catch (StateFormatException e) {
        away = null; // refused below, with the reason
      }
    }
    if (away != null) {
      // The connection comes back while this node's move of it away is still settling: its copy
      // here still holds the 4-tuple until that move closes it. (The session waits for this
      // decision before it answers an ABORT.)
      return away.handle((o, e) -> restoreAndDeliver(handoff, from));
    }
    // Decided at once, on this event loop: the answer leaves before the session reads an ABORT.
    return CompletableFuture.completedFuture(restoreAndDeliver(handoff, from));
  }

  @Override
  public HandoffReply onAbort(long handoffId, String from) {
    if (owned.took(from, handoffId)) {
      lateAborts.incrementAndGet();
      return new FabricMessage.Accepted(handoffId);
    }
    return new FabricMessage.Aborted(handoffId);
  }

  /** Every connection this node owns now. */
  List<FabricMessage.Owned> allOwned() {
    return owned.all();
  }

  /**
   * Every connection this node serves, whichever dispatcher handed it over (and, in peer mode,
   * those it serves itself): a dispatcher forwards them all, so that a route change that brings
   * their clients to it cuts none. With only the connections {@code from} handed over, a dispatcher
   * that restarted dropped the entries the sync plane had given it for the others' (its
   * reconciliation removes entries a server does not list).
   */
  @Override
  public List<FabricMessage.Owned> inventory(String from) {
    List<FabricMessage.Owned> all = new java.util.ArrayList<>(owned.all());
    all.addAll(alsoOwned.get());
    return all;
  }

  private HandoffReply restoreAndDeliver(FabricMessage.Handoff handoff, String from) {
    if (owned.took(from, handoff.handoffId())) {
      return new FabricMessage.Accepted(handoff.handoffId()); // a repeat: already ours
    }
    ConnectionState state;
    try {
      state = ConnectionStateCodec.decode(handoff.state());
    } catch (StateFormatException e) {
      return refuse(handoff, from, "corrupt connection state: " + e.getMessage());
    }
    // Every line logged about it names the connection and the handoff (JSON logs: fields).
    try (var _ = io.baton.log.ConnectionMdc.enter(state.flow(), handoff.handoffId())) {
      return restoreAndDeliver(handoff, from, state);
    }
  }

  private HandoffReply restoreAndDeliver(
      FabricMessage.Handoff handoff, String from, ConnectionState state) {
    var clientRefusal = clients.refusal(state.flow().clientIp());
    if (clientRefusal.isPresent()) {
      untrusted.incrementAndGet();
      return refuse(handoff, from, clientRefusal.get());
    }
    String vip = io.baton.linux.IpText.withPort(state.flow().localIp(), state.flow().localPort());
    Delivery delivery = deliveries.get(vip);
    if (delivery == null) {
      return refuse(handoff, from, "no delivery configured for " + vip + " on " + nodeName);
    }
    if (active.get() >= maxConnections) {
      return refuse(
          handoff, from, nodeName + " is at its limit of " + maxConnections + " connections");
    }
    ConnectionRestorer.Restored restored;
    long t0 = System.nanoTime();
    try {
      restored = ConnectionRestorer.restore(state, ConnectionRestorer.Options.DEFAULT);
    } catch (TransplantException e) {
      return refuse(handoff, from, e.getMessage());
    }
    long restoreMs = (System.nanoTime() - t0) / 1_000_000;
    if (restoreMs >= SLOW_RESTORE_MS) {
      log.warn(
          "restoring {} from {} took {} ms on the fabric loop ({} bytes of state)",
          state.flow(),
          from,
          restoreMs,
          handoff.state().length);
    }
    try {
      // Answers go out at once, as from the application's own listener.
      Sockets.setInt(restored.fd(), Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1, "TCP_NODELAY");
    } catch (LinuxException e) {
      log.debug("{}: {}", state.flow(), e.getMessage());
    }
    active.incrementAndGet();
    accepted.incrementAndGet();
    long id = handoff.handoffId();
    owned.opened(from, id, state.flow());
    ownership.opened(state.flow(), id);
    onRestored.accept(state.flow());
    var info =
        new ConnectionInfo(
            state.flow(), handoff.requestSummary(), handoff.appState(), restored.owedAck());
    LiveConnections.Live[] entry = new LiveConnections.Live[1];
    var over = new java.util.concurrent.atomic.AtomicBoolean();
    delivery.deliver(
        restored.fd(),
        restored.unsentTail(),
        info,
        new CloseListener() {
          @Override
          public void onClosed(long fromClient, long toClient) {
            onClosed(fromClient, toClient, false);
          }

          @Override
          public void onClosed(long fromClient, long toClient, boolean kernelDone) {
            over.set(true);
            synchronized (entry) {
              if (entry[0] != null) live.remove(entry[0]);
            }
            active.decrementAndGet();
            closed.incrementAndGet();
            Runnable report =
                () -> {
                  owned.closed(from, id);
                  ownership.closed(state.flow(), id);
                  // Only the dispatcher that handed it over keeps its entry; if it is not
                  // connected now, the inventory of its next session tells it.
                  closedTo.accept(
                      from, new FabricMessage.Closed(state.flow(), id, fromClient, toClient));
                };
            if (kernelDone) {
              closedAtOnce.increment();
              report.run();
            } else {
              release.afterRelease(state.flow(), report);
            }
          }
        },
        movable -> {
          synchronized (entry) {
            entry[0] =
                new LiveConnections.Live(
                    state.flow(),
                    from,
                    id,
                    handoff.requestSummary(),
                    System.currentTimeMillis(),
                    movable);
            if (!over.get()) live.add(entry[0]); // (closed before it was listed: never listed)
          }
        });
    log.debug("took {} from {}: {}", state.flow(), from, handoff.requestSummary());
    return new FabricMessage.Accepted(handoff.handoffId());
  }

  private HandoffReply refuse(FabricMessage.Handoff handoff, String from, String reason) {
    refused.incrementAndGet();
    refusedLog.info("refused handoff {} from {}: {}", handoff.handoffId(), from, reason);
    return new FabricMessage.Refused(handoff.handoffId(), reason);
  }
}
