package io.baton.server;

import io.baton.dataplane.ForwardingService;
import io.baton.dataplane.Vip;
import io.baton.handoff.HandoffClient;
import io.baton.handoff.Liveness;
import io.baton.linux.LinuxException;
import io.baton.server.delivery.Movable;
import io.baton.transplant.FlowKey;
import io.netty.channel.EventLoopGroup;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves this server's live connections to other servers ({@link Migration}): one connection on
 * request ({@code baton ctl migrate}), or all of them, at their safe points, until a deadline
 * ({@code baton ctl drain}). Holds a fabric client per target server and this host's own forwarding
 * table ({@value #TABLE}, netdev ingress on the fabric device), which sends a moved connection's
 * packets on to its new owner until every dispatcher has switched.
 *
 * <p>Needs the sync plane: the dispatchers learn the new owner from it ({@link #targets}).
 *
 * <p>Thread-safe.
 */
public final class Migrator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Migrator.class);
  static final String TABLE = "baton_migrate";

  /** Migrations of one drain in flight at once (each one HANDOFF on a fabric connection). */
  static final int DRAIN_PARALLEL = 64;

  /** Where connections can go; from the sync plane's farm state. */
  public interface Targets {
    /**
     * The fabric address of {@code node} when it can take connections now; else throws saying why.
     */
    Inet4Address address(String node);

    /**
     * The least loaded server other than this one, among those {@code among} accepts, that can take
     * {@code flow} now, if any.
     */
    Optional<String> pick(FlowKey flow, java.util.function.Predicate<String> among);
  }

  private final String nodeName;
  private final EventLoopGroup group;
  private final byte[] key;
  private final int handoffPort;
  private final int maxFrameBytes;
  private final Liveness liveness;
  private final LiveConnections live;
  private final Duration safePointTimeout;
  private final Duration answerTimeout;

  private record Client(Inet4Address address, HandoffClient client) {}

  private final Map<String, Client> clients = new HashMap<>(); // guarded by this

  /** Moves under way, by flow; each completes once its outcome is settled here. */
  private final Map<FlowKey, CompletableFuture<MigrationOutcome>> moving =
      new ConcurrentHashMap<>();

  private ForwardingService table; // guarded by this; null once closed
  private volatile Targets targets;

  /**
   * Outcomes of this server's migrations so far (those that could not even start count as stayed).
   */
  public final java.util.concurrent.atomic.LongAdder moved =
      new java.util.concurrent.atomic.LongAdder();

  public final java.util.concurrent.atomic.LongAdder stayed =
      new java.util.concurrent.atomic.LongAdder();
  public final java.util.concurrent.atomic.LongAdder lost =
      new java.util.concurrent.atomic.LongAdder();
  private volatile boolean closed;

  Migrator(
      String nodeName,
      EventLoopGroup group,
      byte[] key,
      int handoffPort,
      int maxFrameBytes,
      Liveness liveness,
      String fabricDevice,
      Set<Vip> vips,
      LiveConnections live,
      Duration safePointTimeout,
      Duration answerTimeout)
      throws LinuxException {
    this.nodeName = nodeName;
    this.group = group;
    this.key = key.clone();
    this.handoffPort = handoffPort;
    this.maxFrameBytes = maxFrameBytes;
    this.liveness = liveness;
    this.live = live;
    this.safePointTimeout = safePointTimeout;
    this.answerTimeout = answerTimeout;
    // Now, not at the first migration: libnftables waits on its netlink socket with select(2),
    // and a context opened once the process holds 1,024 descriptors (a busy server) aborts the
    // process ("bit out of range 0 - FD_SETSIZE on fd_set").
    table =
        ForwardingService.start(
            TABLE, fabricDevice, fabricDevice, vips, Duration.ofSeconds(2), System::nanoTime);
    // Entries of an earlier run forward connections whose switch is long over: not ours to keep.
    int stale = table.adoptedCount();
    if (stale > 0) {
      table.adopted().keySet().forEach(table::forget);
      log.info(
          "live migration: removed {} forwarding entries of an earlier run from {}", stale, TABLE);
    }
  }

  /** Where connections can go (set once the node has a sync plane). */
  public void targets(Targets targets) {
    this.targets = targets;
  }

  /**
   * Moves the connection {@code flow} to {@code target} (null: the least loaded server that can
   * take it) at its next safe point. Completes with the outcome; fails at once, saying why, when it
   * cannot even start (no such connection, no sync plane, no eligible target). With {@code force},
   * a connection without a safe point moves anyway, without its application's state (the operator
   * accepts the risk: {@link Movable#forceSuspend}).
   */
  public CompletableFuture<MigrationOutcome> migrate(FlowKey flow, String target, boolean force) {
    return migrate(flow, target, n -> true, force);
  }

  /**
   * Moves {@code flow} to the least loaded of {@code nodes} that can take it (a request that
   * belongs to their pool: per-request routing).
   */
  CompletableFuture<MigrationOutcome> migrateToOneOf(FlowKey flow, java.util.Set<String> nodes) {
    return migrate(flow, null, nodes::contains, false);
  }

  private CompletableFuture<MigrationOutcome> migrate(
      FlowKey flow, String target, java.util.function.Predicate<String> among, boolean force) {
    Optional<LiveConnections.Live> l = live.get(flow);
    if (l.isEmpty())
      return CompletableFuture.failedFuture(
          new IllegalArgumentException(
              "this node (" + nodeName + ") serves no connection " + flow));
    return migrate(l.get(), target, among, force);
  }

  private CompletableFuture<MigrationOutcome> migrate(
      LiveConnections.Live l,
      String target,
      java.util.function.Predicate<String> among,
      boolean force) {
    try {
      Targets t = targets;
      if (t == null) {
        throw new IllegalStateException(
            "live migration needs the sync plane (a sync section in the config): the"
                + " dispatchers learn the new owner from it");
      }
      String to =
          target != null
              ? target
              : t.pick(l.flow(), among)
                  .orElseThrow(
                      () ->
                          new IllegalStateException(
                              "no other server can take "
                                  + l.flow()
                                  + " now (none in the view reports its VIP port, healthy and not"
                                  + " draining)"));
      if (to.equals(nodeName))
        throw new IllegalArgumentException("the connection is already on " + to);
      Inet4Address address = t.address(to);
      CompletableFuture<MigrationOutcome> settled = new CompletableFuture<>();
      if (moving.putIfAbsent(l.flow(), settled) != null) {
        throw new IllegalStateException(l.flow() + " is already moving");
      }
      try {
        HandoffClient client = client(to, address);
        ForwardingService fwd = table();
        client
            .connect()
            .thenCompose(
                v ->
                    new Migration(
                            l,
                            to,
                            address,
                            MigrationPorts.Fabric.of(client),
                            MigrationPorts.Forwarding.of(fwd),
                            MigrationPorts.Freezer.MOVE,
                            safePointTimeout,
                            answerTimeout,
                            System::nanoTime,
                            force)
                        .start())
            .whenComplete(
                (o, e) -> {
                  moving.remove(l.flow(), settled);
                  count(o);
                  if (e != null) settled.completeExceptionally(e);
                  else settled.complete(o);
                });
      } catch (RuntimeException e) {
        moving.remove(l.flow(), settled);
        settled.completeExceptionally(e);
        throw e;
      }
      return settled;
    } catch (RuntimeException e) {
      stayed.increment();
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Moves every connection served here, each at its next safe point, until {@code deadline}: rounds
   * of at most {@link #DRAIN_PARALLEL} at a time; a connection that stayed (no safe point yet, a
   * congested fabric, a refusal) is tried again in the next round while time is left. Completes
   * with each connection's last outcome, and those still here at the deadline as "stayed". With
   * {@code force}, connections without a safe point move too (see {@link #migrate}).
   */
  public CompletableFuture<List<MigrationOutcome>> migrateAll(
      String target, Duration deadline, boolean force) {
    long end = System.nanoTime() + deadline.toNanos();
    Map<FlowKey, MigrationOutcome> last = new ConcurrentHashMap<>();
    CompletableFuture<List<MigrationOutcome>> done = new CompletableFuture<>();
    round(target, end, last, done, force);
    return done;
  }

  /**
   * After a drain's deadline: closes (FIN) every connection still here, for an operator who chose
   * to end them rather than let them finish; their outcomes become "closed". Completes once each
   * close has run on its connection's loop.
   */
  public CompletableFuture<List<MigrationOutcome>> closeRest(List<MigrationOutcome> outcomes) {
    List<CompletableFuture<MigrationOutcome>> all = new ArrayList<>();
    for (MigrationOutcome o : outcomes) {
      Optional<LiveConnections.Live> l = o.moved() ? Optional.empty() : live.get(o.flow());
      if (l.isEmpty() || !l.get().movable().isOpen()) {
        all.add(CompletableFuture.completedFuture(o));
        continue;
      }
      CompletableFuture<MigrationOutcome> f = new CompletableFuture<>();
      Movable m = l.get().movable();
      m.loop()
          .execute(
              () -> {
                try {
                  m.close();
                  f.complete(
                      new MigrationOutcome(
                          o.flow(),
                          o.target(),
                          "closed",
                          "closed at the drain's deadline (" + o.detail() + ")",
                          o.waitedMicros(),
                          0));
                } catch (RuntimeException e) {
                  f.complete(
                      new MigrationOutcome(
                          o.flow(),
                          o.target(),
                          o.outcome(),
                          o.detail() + "; not closed: " + e.getMessage(),
                          o.waitedMicros(),
                          o.movedMicros()));
                }
              });
      all.add(f);
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
        .thenApply(v -> all.stream().map(CompletableFuture::join).toList());
  }

  private void round(
      String target,
      long end,
      Map<FlowKey, MigrationOutcome> last,
      CompletableFuture<List<MigrationOutcome>> done,
      boolean force) {
    List<LiveConnections.Live> here =
        live.all().stream().filter(l -> l.movable().isOpen()).toList();
    if (here.isEmpty() || System.nanoTime() - end >= 0 || closed) {
      for (LiveConnections.Live l : here) {
        last.putIfAbsent(
            l.flow(),
            new MigrationOutcome(
                l.flow(),
                target == null ? "" : target,
                "stayed",
                "still here at the deadline",
                0,
                0));
      }
      done.complete(new ArrayList<>(last.values()));
      return;
    }
    // At most DRAIN_PARALLEL at once, without blocking: each move that ends starts the next one.
    // Later rounds run on an event loop, where waiting for a permit could wait for this very loop.
    var queue = new java.util.concurrent.ConcurrentLinkedQueue<>(here);
    var unfinished = new java.util.concurrent.atomic.AtomicInteger(here.size());
    var progress = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable[] next = new Runnable[1];
    next[0] =
        () -> {
          LiveConnections.Live l = queue.poll();
          if (l == null) return;
          migrate(l, target, n -> true, force)
              .handleAsync(
                  (o, e) -> {
                    MigrationOutcome out =
                        o != null
                            ? o
                            : new MigrationOutcome(
                                l.flow(),
                                target == null ? "" : target,
                                "stayed",
                                rootMessage(e),
                                0,
                                0);
                    last.put(l.flow(), out);
                    if (out.moved()) progress.set(true);
                    if (unfinished.decrementAndGet() == 0) {
                      long pause =
                          progress.get()
                              ? 0
                              : 50; // nothing moved: let safe points and the farm come round
                      group.schedule(
                          () -> round(target, end, last, done, force),
                          pause,
                          TimeUnit.MILLISECONDS);
                    } else {
                      next[0].run();
                    }
                    return null;
                  },
                  group);
        };
    for (int i = 0; i < Math.min(DRAIN_PARALLEL, here.size()); i++) next[0].run();
  }

  /**
   * The move of {@code flow} away from here that is still settling, if any: a connection that comes
   * back before its copy here is closed must wait for it (the 4-tuple is still taken).
   */
  CompletableFuture<MigrationOutcome> settling(FlowKey flow) {
    return moving.get(flow);
  }

  /** Whether any move away from here is under way. */
  boolean anyMoving() {
    return !moving.isEmpty();
  }

  /** Migrations of connections away from this server under way now. */
  public int movingCount() {
    return moving.size();
  }

  private void count(MigrationOutcome o) {
    if (o == null || o.outcome().equals("stayed")) {
      stayed.increment();
    } else if (o.moved()) {
      moved.increment();
    } else {
      lost.increment();
    }
  }

  /**
   * This server took {@code flow} (back): it must not forward its packets anywhere else. A
   * connection moved away and back within the switch grace would otherwise loop.
   */
  void restored(FlowKey flow) {
    ForwardingService t;
    synchronized (this) {
      t = table;
    }
    // Nearly always empty (it holds the moves of the last switch window): a restore must not wake
    // its owner thread for nothing (that cost every handoff's answer tens of microseconds).
    if (t != null && t.trackedEntries() > 0) t.forget(flow);
  }

  private synchronized HandoffClient client(String node, Inet4Address address) {
    Client c = clients.get(node);
    if (c != null && c.address().equals(address)) return c.client();
    if (c != null) c.client().close(); // the node came back on another address
    var client =
        new HandoffClient(
            group,
            new InetSocketAddress(address, handoffPort),
            key,
            nodeName,
            new HandoffClient.Listener() {},
            Duration.ofSeconds(2),
            maxFrameBytes,
            liveness);
    clients.put(node, new Client(address, client));
    return client;
  }

  private synchronized ForwardingService table() {
    if (closed) throw new IllegalStateException("the node is stopping");
    return table;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null)
      t = t.getCause();
    return t == null ? "" : t.getMessage();
  }

  /** Closes the fabric clients and deletes this host's migration table. */
  @Override
  public void close() {
    ForwardingService t;
    synchronized (this) {
      closed = true;
      clients.values().forEach(c -> c.client().close());
      clients.clear();
      t = table;
      table = null;
    }
    if (t != null) t.deleteTable();
  }
}
