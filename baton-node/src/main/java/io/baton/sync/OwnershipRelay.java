package io.baton.sync;

import io.baton.log.RateLimitedLog;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Connection ownership over the sync plane, both ways. A server queues the connections it takes and
 * loses ({@link #changed}); {@link #flush}, every {@value #FLUSH_MS} ms on the plane's timer
 * thread, seals them into updates of at most {@link OwnershipUpdate#MAX_CHANGES} and hands them to
 * the plane to send, after a member joined every open connection first. A dispatcher's updates
 * arrive through {@link #receive}: the sender must be the node the update names and its
 * (incarnation, sequence) must grow (no replay); those that arrive before the dispatcher can
 * forward are kept (bounded) and delivered with {@link #deliverTo}.
 *
 * <p>Thread-safe: the queue and counters are concurrent, the early list is guarded by itself, the
 * sequence and the codec are confined to the timer thread.
 */
final class OwnershipRelay {
  /** How often queued changes leave. */
  static final long FLUSH_MS = 20;

  /** Changes kept for a dispatcher that cannot forward yet. */
  static final long MAX_EARLY_CHANGES = 4_000_000;

  /** How the plane sends sealed bytes: to the members that forward, or to every other member. */
  @FunctionalInterface
  interface Sender {
    void send(byte[] bytes, boolean everyone) throws Exception;
  }

  private final SyncSettings settings;
  private final long incarnation;
  private final Sender sender;
  private final RateLimitedLog log;
  private final SyncCodec encoder; // timer thread only
  private final ConcurrentLinkedQueue<OwnershipUpdate.Change> queue = new ConcurrentLinkedQueue<>();
  private volatile SyncPlane.OwnershipSource source;
  private volatile SyncPlane.OwnershipSink sink; // set under early
  private final List<OwnershipUpdate> early = new ArrayList<>(); // guarded by itself
  private long earlyChanges; // guarded by early
  private volatile boolean resend;
  private long sequence; // timer thread only

  /** Per sender, the (incarnation, sequence) of its last update. */
  private final Map<String, long[]> last = new ConcurrentHashMap<>();

  final LongAdder changesSent = new LongAdder();
  final LongAdder changesReceived = new LongAdder();
  final LongAdder rejected = new LongAdder();

  OwnershipRelay(SyncSettings settings, long incarnation, Sender sender, RateLimitedLog log) {
    this.settings = settings;
    this.incarnation = incarnation;
    this.sender = sender;
    this.log = log;
    this.encoder = new SyncCodec(settings.keys());
  }

  /** A connection this node (a server) took or lost: published within {@value #FLUSH_MS} ms. */
  void changed(OwnershipUpdate.Change change) {
    if (source != null && !ipv6Skipped(change)) queue.add(change);
  }

  /**
   * The sync plane's records carry IPv4 flows only: an IPv6 connection's ownership is not
   * replicated (other dispatchers learn it from the server's inventory on their fabric session).
   */
  private boolean ipv6Skipped(OwnershipUpdate.Change change) {
    if (!change.flow().ipv6()) return false;
    log.warn(
        "sync: ownership of IPv6 connections is not replicated (the sync plane is IPv4 only): {}",
        change.flow());
    return true;
  }

  /** Starts publishing, with every open connection first. */
  void publish(SyncPlane.OwnershipSource openConnections) {
    this.source = openConnections;
    resend = true;
  }

  /**
   * A new view: a member that just joined (a dispatcher that started or came back) knows none of
   * this node's connections, so all of them go out again, once; departed senders are forgotten.
   */
  void viewChanged(Set<String> before, Set<String> now) {
    last.keySet().retainAll(now);
    if (source != null && !before.containsAll(now)) resend = true;
  }

  /** On the timer thread. */
  void flush() {
    SyncPlane.OwnershipSource openConnections = source;
    if (openConnections == null) return;
    try {
      if (resend) {
        resend = false;
        List<OwnershipUpdate.Change> all =
            openConnections.openConnections().stream().filter(c -> !ipv6Skipped(c)).toList();
        for (int i = 0; i < all.size(); i += OwnershipUpdate.MAX_CHANGES) {
          send(all.subList(i, Math.min(all.size(), i + OwnershipUpdate.MAX_CHANGES)), true);
        }
      }
      List<OwnershipUpdate.Change> batch = new ArrayList<>();
      for (OwnershipUpdate.Change c; (c = queue.poll()) != null; ) {
        batch.add(c);
        if (batch.size() == OwnershipUpdate.MAX_CHANGES) {
          send(batch, false);
          batch.clear();
        }
      }
      if (!batch.isEmpty()) send(batch, false);
    } catch (Exception | Error e) {
      log.warn("sync: cannot publish ownership changes: {}", String.valueOf(e.getMessage()));
    }
  }

  private void send(List<OwnershipUpdate.Change> changes, boolean everyone) throws Exception {
    OwnershipUpdate u =
        new OwnershipUpdate(
            settings.node(), settings.fabricAddress(), incarnation, ++sequence, changes);
    sender.send(encoder.encode(u), everyone);
    changesSent.add(changes.size());
  }

  /** An update that passed its seal, from the member named {@code from}. */
  void receive(String from, OwnershipUpdate u) {
    if (!u.node().equals(from)) {
      rejected.increment();
      log.warn("sync: refused an ownership update from {} that claims to be {}", from, u.node());
      return;
    }
    long[] previous = last.get(from);
    if (previous != null
        && !(u.incarnation() > previous[0]
            || (u.incarnation() == previous[0] && u.sequence() > previous[1]))) {
      rejected.increment();
      log.warn("sync: refused a replayed ownership update {} of {}", u.sequence(), from);
      return;
    }
    last.put(from, new long[] {u.incarnation(), u.sequence()});
    changesReceived.add(u.changes().size());
    SyncPlane.OwnershipSink to;
    synchronized (early) {
      to = sink;
      if (to == null) {
        // A dispatcher joins before it can forward: keep what the servers send meanwhile (they
        // send everything when a member joins), bounded.
        if (settings.roles().contains("dispatcher")
            && earlyChanges + u.changes().size() <= MAX_EARLY_CHANGES) {
          early.add(u);
          earlyChanges += u.changes().size();
        }
        return;
      }
    }
    if (!to.apply(u)) rejected.increment();
  }

  /** The dispatcher side: where updates go, starting with those kept since the node joined. */
  void deliverTo(SyncPlane.OwnershipSink to) {
    List<OwnershipUpdate> pending;
    synchronized (early) {
      pending = new ArrayList<>(early);
      early.clear();
      earlyChanges = 0;
      sink = to;
    }
    for (OwnershipUpdate u : pending) {
      if (!to.apply(u)) rejected.increment();
    }
  }
}
