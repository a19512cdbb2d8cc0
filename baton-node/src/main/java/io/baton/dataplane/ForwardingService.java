package io.baton.dataplane;

import io.baton.dataplane.DirectForwardingTable.Forward;
import io.baton.dataplane.DirectForwardingTable.Op;
import io.baton.dataplane.DirectForwardingTable.Retire;
import io.baton.dataplane.DirectForwardingTable.Unforward;
import io.baton.dataplane.FlowEntries.Entry;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the dispatcher's {@link DirectForwardingTable}. Changes reach the kernel two ways:
 *
 * <ul>
 *   <li>a {@link Batch} is planned and committed on the caller's own thread: the handoff path,
 *       where each event loop collects the changes of one loop turn and commits them in one
 *       nf_tables netlink batch without waking another thread (a thread hop costs a futex wake, two
 *       context switches and often an IPI, more than the netlink round trip itself);
 *   <li>the other methods queue a command for the owner thread ("baton-forwarding"), like an Aeron
 *       conductor; each turn of its loop drains the whole queue into one batch.
 * </ul>
 *
 * Both take {@code guard} for the planning and the netlink batch, so the bookkeeping and the
 * kernel's table change in one order.
 *
 * <p>Each entry carries the token of the handoff that installed it (the dispatcher's handoff id),
 * so a late or stale report about an older connection on the same 4-tuple cannot remove a newer
 * connection's entry. Entries have no expiry: they go when their owner reports the close, when
 * their server is declared dead, or by reconciliation with the server's own list of connections. A
 * closed connection's late FIN/ACKs must still reach the server (the dispatcher's stack would
 * answer them with RSTs): the kernel forwards them for a grace period from the close report, unless
 * a new connection reuses the 4-tuple first ({@link #retire}).
 *
 * <p>The table outlives the process: {@link #start} adopts the entries of an existing table of the
 * same shape under an exclusive per-namespace lock, and {@link #close} leaves the table in the
 * kernel so forwarding goes on while the dispatcher restarts.
 *
 * <p>Thread-safe; the table and the bookkeeping are touched only under {@code guard}. The owner
 * thread and the table's netlink socket are created in the network namespace of the thread that
 * calls {@link #start} (a netlink socket keeps its namespace whichever thread uses it).
 */
public final class ForwardingService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ForwardingService.class);

  /**
   * How often the owner thread wakes while the BPF flow map is attached ({@link FlowMirror}: its
   * encapsulated closings expire here).
   */
  private static final long IDLE_POLL_MS = 50;

  /**
   * How often, at most, it wakes to forget closed connections whose grace is over (bookkeeping
   * only: the kernel ends their forwarding by itself, and a grace is read against the clock).
   */
  private static final long LATE_POLL_MS = 250;

  /**
   * How long it sleeps with nothing to do. On a VM each wake of an idle CPU costs tens of
   * microseconds; 20 wakes a second were a sixth of an idle dispatcher's CPU.
   */
  private static final long QUIET_POLL_MS = 1000;

  /** The token of an entry adopted from the kernel, or of a report that names no handoff. */
  public static final long UNKNOWN_TOKEN = DirectForwardingTable.ADOPTED_TOKEN;

  /** What {@link #reconcile} changed. */
  public record Reconciled(int removed, int added) {}

  /**
   * A closed connection in its grace: the kernel forwards its late packets until {@code untilNs}.
   */
  private record Late(FlowKey flow, long untilNs) {}

  /**
   * A command for the owner thread: {@code plan} runs there, updates the bookkeeping, adds the
   * kernel changes it needs and returns the value its future completes with once they commit.
   */
  private interface Command {
    Object plan(List<Op> ops);
  }

  private record Queued(Command command, CompletableFuture<Object> done, boolean query) {}

  private final LinkedBlockingQueue<Queued> queue = new LinkedBlockingQueue<>();

  /** Guards the table, its netlink socket and the bookkeeping below. */
  private final ReentrantLock guard = new ReentrantLock();

  /**
   * The BPF flow map's copy of this table (null without one): set once, before the first handoff;
   * its {@code applied}, {@code notApplied} and {@code expire} are called under the guard, its
   * {@code putAhead} by event loops without it.
   */
  private volatile FlowMirror mirror;

  // Under guard only from here ...
  // Closed connections whose late-packet element the kernel may still hold, oldest first, and
  // the latest grace end per flow: a second close of one 4-tuple within the grace must replace
  // the element (the kernel refuses a key that maps elsewhere). Rate x (grace + up to
  // QUIET_POLL_MS) entries at most.
  private final ArrayDeque<Late> late = new ArrayDeque<>();
  private final Map<FlowKey, Long> lateUntil = new HashMap<>();
  private final FlowEntries entries;
  // entries.size() after each commit, for readers on other threads (metrics): reading the kernel's
  // map instead would dump every shard under the guard and stall handoffs meanwhile.
  private volatile int tracked;
  // ... to here.
  private final DirectForwardingTable table;
  private final ForwardingTableLock lock;
  private final DirectForwardingTable.Opened opened;
  private final int adoptedCount;
  private final Set<InetAddress> adoptedServers;
  private final Set<Vip> vips;
  private final Duration closeGrace;
  private final LongSupplier nanoClock;
  private final Thread owner;
  private final AtomicLong installed = new AtomicLong();
  private final AtomicLong removed = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private volatile boolean stopped;
  private volatile boolean deleteOnStop;

  private ForwardingService(
      DirectForwardingTable table,
      ForwardingTableLock lock,
      DirectForwardingTable.Opened opened,
      Set<Vip> vips,
      Duration closeGrace,
      LongSupplier nanoClock,
      Thread owner) {
    this.table = table;
    this.lock = lock;
    this.opened = opened;
    this.entries = opened.entries();
    this.adoptedCount = entries.size();
    this.tracked = adoptedCount; // readers may act on it before the owner's first turn
    this.adoptedServers = Set.copyOf(entries.servers());
    this.vips = vips;
    this.closeGrace = closeGrace;
    this.nanoClock = nanoClock;
    this.owner = owner;
    table.shareUnder(guard); // Batch.commit applies changes on its caller's thread, under the guard
  }

  /**
   * Takes the namespace's lock for {@code table} and opens the table on a new owner thread: adopts
   * an existing table of the same shape with its entries, replaces one of another shape (with a
   * WARN saying how many entries that dropped and why), or creates it. Fails with one line naming
   * the lock file and its holder's pid when another dispatcher holds the table.
   */
  public static ForwardingService start(
      String table,
      String frontDevice,
      String fabricDevice,
      Collection<Vip> vips,
      Duration closeGrace,
      LongSupplier nanoClock)
      throws LinuxException {
    Objects.requireNonNull(closeGrace, "closeGrace");
    Objects.requireNonNull(nanoClock, "nanoClock");
    Set<Vip> vipSet = Set.copyOf(vips);
    CompletableFuture<ForwardingService> started = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              ForwardingService service;
              ForwardingTableLock lock = null;
              try {
                lock = ForwardingTableLock.acquire(table);
                long t0 = System.nanoTime();
                DirectForwardingTable.Opened opened =
                    DirectForwardingTable.open(table, frontDevice, fabricDevice, vips);
                if (opened.replacedBecause() != null && opened.dropped() > 0) {
                  log.warn(
                      "forwarding table {} replaced because {}: {} forwarding entries carried over, {} dropped (their"
                          + " VIP is gone or their key format is too old; those connections are reset by this host)",
                      table,
                      opened.replacedBecause(),
                      opened.entries().size(),
                      opened.dropped());
                } else if (opened.replacedBecause() != null) {
                  log.info(
                      "forwarding table {} replaced because {}: all {} forwarding entries carried over",
                      table,
                      opened.replacedBecause(),
                      opened.entries().size());
                } else if (!opened.entries().isEmpty()) {
                  log.info(
                      "forwarding table {}: adopted {} entries in {} ms",
                      table,
                      opened.entries().size(),
                      (System.nanoTime() - t0) / 1_000_000);
                }
                service =
                    new ForwardingService(
                        opened.table(),
                        lock,
                        opened,
                        vipSet,
                        closeGrace,
                        nanoClock,
                        Thread.currentThread());
              } catch (LinuxException | RuntimeException e) {
                if (lock != null) {
                  try {
                    lock.close();
                  } catch (LinuxException suppressed) {
                    e.addSuppressed(suppressed);
                  }
                }
                started.completeExceptionally(e);
                return;
              }
              started.complete(service);
              service.loop();
            },
            "baton-forwarding");
    t.setDaemon(true);
    t.start();
    try {
      return started.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof LinuxException le) throw le;
      if (e.getCause() instanceof RuntimeException re) throw re;
      throw new IllegalStateException("cannot open forwarding table " + table, e.getCause());
    }
  }

  /**
   * From now on, copies every TCP entry into {@code flows}, the BPF flow map that sees each packet
   * before this table: the entries of servers for which {@code encap} holds are wrapped there, the
   * others sent on unchanged. Starts with those adopted at start; a handoff's forward may be put
   * there ahead of its commit ({@link #forwardAhead}). Call once, before the first handoff.
   */
  public void mirrorInto(FlowForwarding flows, java.util.function.Predicate<InetAddress> encap) {
    FlowMirror m = new FlowMirror(flows, encap);
    guard.lock();
    try {
      if (mirror != null) throw new IllegalStateException("already mirrored");
      m.adopt(entries);
      mirror = m;
    } finally {
      guard.unlock();
    }
  }

  /**
   * Puts a handoff's forward into the BPF flow map now, ahead of the nftables change that the
   * caller must then add with {@link Batch#forwardAhead} (in the same event-loop turn): the flow's
   * packets go to {@code server} from this call on. Returns the marker to pass there, or null when
   * the map cannot take it (none attached, a family it cannot forward, a failed {@code bpf(2)}
   * call): then only {@link Batch#forward}'s commit forwards the flow. Thread-safe.
   */
  public Object forwardAhead(FlowKey flow, InetAddress server, long token) {
    FlowMirror m = mirror;
    return m == null ? null : m.putAhead(flow, server, token);
  }

  /** Forwards put into the BPF flow map ahead of their nftables commit. */
  public long putAheadTotal() {
    FlowMirror m = mirror;
    return m == null ? 0 : m.putAheadCount();
  }

  /** Changes of the BPF flow map that failed (each logged); 0 without a map. */
  public long mirrorFailures() {
    FlowMirror m = mirror;
    return m == null ? 0 : m.failures();
  }

  /**
   * Entries found in the kernel at start (adopted), flow -> server fabric address, as a map built
   * on first call: for tests and small tables (a million entries take ~200 MB this way). The
   * service itself keeps them compactly ({@link FlowEntries}).
   */
  public Map<FlowKey, InetAddress> adopted() {
    return opened.adopted();
  }

  /** How many entries were adopted at start. */
  public int adoptedCount() {
    return adoptedCount;
  }

  /** The servers the adopted entries forwarded to at start. */
  public Set<InetAddress> adoptedServers() {
    return adoptedServers;
  }

  /**
   * Start of handoff {@code token} whose socket drops its own output (its frozen mark, {@link
   * io.baton.transplant.ConnectionExporter#FROZEN_MARK}): forwards the client's packets to {@code
   * server}, replacing any older entry of the flow. One element change, and nothing to undo after
   * the silent close.
   */
  public CompletableFuture<Void> forward(FlowKey flow, InetAddress server, long token) {
    return submit(forwardCommand(flow, server, token, null)).thenApply(o -> null);
  }

  /**
   * Another dispatcher's handoff, as its server reported it over the sync plane: forwards the flow
   * to {@code server} unless it already goes there (this dispatcher's own handoff, or an earlier
   * report). Completes with whether an entry changed.
   */
  public CompletableFuture<Boolean> replicate(FlowKey flow, InetAddress server, long token) {
    return submit(
            ops -> {
              Entry old = entries.get(flow);
              if (old != null && old.server().equals(server)) return Boolean.FALSE;
              ops.add(new Forward(flow, server, old != null));
              entries.put(flow, new Entry(server, token, nanoClock.getAsLong()));
              installed.incrementAndGet();
              return Boolean.TRUE;
            })
        .thenApply(o -> (Boolean) o);
  }

  /** Handoff abandoned: removes the entry only if it still carries this token. */
  public CompletableFuture<Void> cancel(FlowKey flow, long token) {
    return submit(cancelCommand(flow, token)).thenApply(o -> null);
  }

  /**
   * Removes the flow's live entry whatever its token: this host owns the connection now (a server
   * that takes back a connection it migrated away, whose packets it must not send on). Completes
   * with whether there was one.
   */
  public CompletableFuture<Boolean> forget(FlowKey flow) {
    return submit(
            ops -> {
              if (entries.get(flow) == null) return Boolean.FALSE;
              ops.add(new Unforward(flow));
              entries.remove(flow);
              return Boolean.TRUE;
            })
        .thenApply(o -> (Boolean) o);
  }

  private Command forwardCommand(FlowKey flow, InetAddress server, long token, Object ahead) {
    return ops -> {
      FlowMirror.Ahead a = (FlowMirror.Ahead) ahead;
      // Planned already, by a change of the flow that came first (see pullAhead).
      if (a != null && !mirror.startPlanning(a)) return null;
      planForward(ops, flow, server, token, a);
      return null;
    };
  }

  private void planForward(
      List<Op> ops, FlowKey flow, InetAddress server, long token, FlowMirror.Ahead ahead) {
    Entry old = entries.get(flow);
    Forward op = new Forward(flow, server, old != null);
    ops.add(op);
    if (ahead != null) mirror.claim(ahead, op);
    entries.put(flow, new Entry(server, token, nanoClock.getAsLong()));
    installed.incrementAndGet();
  }

  /**
   * A change about handoff {@code token} of {@code flow} whose forward was put into the BPF flow
   * map ahead of its batch, which another event loop has not committed yet: plans that forward
   * first, here, so that the change finds its entry (a server's CLOSED can overtake a loop that was
   * kept from its commit). Under the guard.
   */
  private void pullAhead(List<Op> ops, FlowKey flow, long token) {
    FlowMirror m = mirror;
    if (m == null) return;
    FlowMirror.Ahead a = m.unplanned(flow, token);
    if (a != null && m.startPlanning(a)) planForward(ops, a.flow, a.server, a.token, a);
  }

  private Command cancelCommand(FlowKey flow, long token) {
    return ops -> {
      Entry e = entries.get(flow);
      // No entry (a dead server's entries went meanwhile), or a newer handoff's: nothing to do.
      if (e == null || e.token() != token) return null;
      ops.add(new Unforward(flow));
      entries.remove(flow);
      return null;
    };
  }

  /** A new, empty batch for the calling thread (see {@link Batch}). */
  public Batch batch() {
    return new Batch();
  }

  /**
   * Handoff changes planned and committed on the caller's thread, in one netlink batch with no
   * other thread involved: the caller collects the changes of, say, one event-loop turn and calls
   * {@link #commit}. The futures complete on the committing thread, after the guard is released, in
   * the order the changes were added. Confined to one thread.
   */
  public final class Batch {
    private final List<Queued> commands = new ArrayList<>();

    private Batch() {}

    /** As {@link ForwardingService#forward}, at the next {@link #commit}. */
    public CompletableFuture<Void> forward(FlowKey flow, InetAddress server, long token) {
      return add(forwardCommand(flow, server, token, null));
    }

    /**
     * The nftables record of a forward already put into the BPF flow map ({@link
     * ForwardingService#forwardAhead} returned {@code ahead}), at the next {@link #commit}: the
     * packets are forwarded already; the future says whether the record is in the table too.
     */
    public CompletableFuture<Void> forwardAhead(
        FlowKey flow, InetAddress server, long token, Object ahead) {
      return add(forwardCommand(flow, server, token, Objects.requireNonNull(ahead, "ahead")));
    }

    /** As {@link ForwardingService#cancel}, at the next {@link #commit}. */
    public CompletableFuture<Void> cancel(FlowKey flow, long token) {
      return add(cancelCommand(flow, token));
    }

    /** As {@link ForwardingService#retire}, at the next {@link #commit}. */
    public CompletableFuture<Boolean> retire(FlowKey flow, InetAddress server, long token) {
      return addQueued(retireCommand(flow, server, token)).thenApply(o -> (Boolean) o);
    }

    public boolean isEmpty() {
      return commands.isEmpty();
    }

    /**
     * Plans every change and sends them to the kernel in one netlink batch (command by command if
     * the batch fails), then completes their futures; fails them if the service is closed. The
     * batch is empty afterwards and may be reused.
     */
    public void commit() {
      if (commands.isEmpty()) return;
      List<Queued> now = List.copyOf(commands);
      commands.clear();
      Turn turn = new Turn();
      guard.lock();
      try {
        if (stopped) {
          turn.fail(now, new IllegalStateException("forwarding service is closed"));
        } else {
          for (Queued q : now) turn.add(q);
          turn.commit();
          tracked = entries.size();
        }
      } finally {
        guard.unlock();
      }
      turn.settle();
    }

    private CompletableFuture<Void> add(Command c) {
      return addQueued(c).thenApply(o -> null);
    }

    private CompletableFuture<Object> addQueued(Command c) {
      CompletableFuture<Object> done = new CompletableFuture<>();
      commands.add(new Queued(c, done, false));
      return done;
    }
  }

  /**
   * The owner reported the close: if the entry still points to {@code server} and its token is
   * {@code token} or unknown (adopted, token not yet learnt), it leaves the owner map now and the
   * kernel forwards the connection's late packets (the client's FIN, its ACK of the server's FIN)
   * for the close grace, or until a SYN reopens the 4-tuple, whichever comes first: then they reach
   * this host's stack as the new connection's. {@link #UNKNOWN_TOKEN} matches whatever entry is
   * there now. Completes with whether the entry matched; a stale report (another server, another
   * token) changes nothing.
   */
  public CompletableFuture<Boolean> retire(FlowKey flow, InetAddress server, long token) {
    return submit(retireCommand(flow, server, token)).thenApply(o -> (Boolean) o);
  }

  private Command retireCommand(FlowKey flow, InetAddress server, long token) {
    return ops -> {
      Entry e = entries.get(flow);
      if (token != UNKNOWN_TOKEN && (e == null || e.token() != token)) {
        pullAhead(ops, flow, token);
        e = entries.get(flow);
      }
      boolean matches =
          e != null
              && e.server().equals(server)
              && (token == UNKNOWN_TOKEN || e.token() == UNKNOWN_TOKEN || e.token() == token);
      if (matches) {
        long now = nanoClock.getAsLong();
        Long until = lateUntil.get(flow);
        ops.add(new Retire(flow, server, closeGrace, until != null && until - now > 0));
        entries.remove(flow);
        long end = now + closeGrace.toNanos();
        lateUntil.put(flow, end);
        late.addLast(new Late(flow, end));
        removed.incrementAndGet();
      }
      return matches;
    };
  }

  /** The server is dead: remove every entry that forwards to it now; completes with the count. */
  public CompletableFuture<Integer> dropServer(InetAddress server) {
    return submit(
            ops -> {
              FlowMirror m = mirror;
              if (m != null) {
                for (FlowMirror.Ahead a : m.unplannedTo(server)) pullAhead(ops, a.flow, a.token);
              }
              int n = entries.removeIf(server, (f, e) -> true, f -> ops.add(new Unforward(f)));
              removed.addAndGet(n);
              return n;
            })
        .thenApply(o -> (Integer) o);
  }

  /**
   * A server reported the connections it owns (flow -> token) when its fabric session came up at
   * {@code sessionUpNs} (nanoClock time). Entries forwarding to that server that were adopted or
   * installed before sessionUpNs and are not in owned are removed; owned flows with no entry get
   * one (with that token); entries in owned get their token. An owned flow whose entry forwards to
   * another server, or whose VIP this table does not serve, is left alone. Completes with (removed,
   * added).
   */
  public CompletableFuture<Reconciled> reconcile(
      InetAddress server, Map<FlowKey, Long> owned, long sessionUpNs) {
    Map<FlowKey, Long> copy = Map.copyOf(owned);
    return submit(
            ops -> {
              int gone =
                  entries.removeIf(
                      server,
                      (f, v) -> v.installedNs() < sessionUpNs && !copy.containsKey(f),
                      f -> ops.add(new Unforward(f)));
              int added = 0;
              long now = nanoClock.getAsLong();
              for (Map.Entry<FlowKey, Long> o : copy.entrySet()) {
                FlowKey flow = o.getKey();
                if (!vips.contains(new Vip(flow.localIp(), flow.localPort()))) continue;
                Entry e = entries.get(flow);
                if (e == null) {
                  ops.add(new Forward(flow, server, false));
                  entries.put(flow, new Entry(server, o.getValue(), now));
                  added++;
                } else if (e.server().equals(server)) {
                  entries.put(flow, new Entry(server, o.getValue(), e.installedNs()));
                }
              }
              removed.addAndGet(gone);
              installed.addAndGet(added);
              return new Reconciled(gone, added);
            })
        .thenApply(o -> (Reconciled) o);
  }

  /** One live entry, for listings. */
  public record Listed(FlowKey flow, InetAddress server, long ageNs) {}

  /**
   * At most {@code limit} of the live entries: which server each connection forwards to, since
   * when.
   */
  @SuppressWarnings("unchecked")
  public CompletableFuture<List<Listed>> list(int limit) {
    return query(
            ops -> {
              List<Listed> out = new ArrayList<>(Math.min(limit, Math.max(0, tracked)));
              long now = nanoClock.getAsLong();
              entries.forEach(
                  (f, e) -> {
                    if (out.size() < limit)
                      out.add(new Listed(f, e.server(), now - e.installedNs()));
                  });
              return out;
            })
        .thenApply(o -> (List<Listed>) o);
  }

  /** Entries this service tracks (as of its last turn); cheap, any thread. */
  public int trackedEntries() {
    return tracked;
  }

  /**
   * Entries of open connections in the kernel's map now: one netlink dump per shard on the owner
   * thread, which delays handoffs meanwhile (tests and diagnostics; metrics use {@link
   * #trackedEntries}).
   */
  public CompletableFuture<Integer> size() {
    return count(DirectForwardingTable::size);
  }

  /**
   * Closed connections whose late packets the kernel still forwards now (grace not over, 4-tuple
   * not reopened): one netlink dump on the owner thread (tests and diagnostics).
   */
  public CompletableFuture<Integer> closingSize() {
    return count(DirectForwardingTable::closingCount);
  }

  private interface TableCount {
    int count(DirectForwardingTable table) throws LinuxException;
  }

  private CompletableFuture<Integer> count(TableCount counter) {
    return query(
            ops -> {
              try {
                return counter.count(table);
              } catch (LinuxException e) {
                throw new CompletionException(e);
              }
            })
        .thenApply(o -> (Integer) o);
  }

  public long installedTotal() {
    return installed.get();
  }

  public long removedTotal() {
    return removed.get();
  }

  /**
   * Completes once every change submitted before it is in the kernel (the owner thread applies
   * changes in order).
   */
  public CompletableFuture<Void> barrier() {
    return submit(ops -> null).thenApply(o -> null);
  }

  /** Netlink batches sent for changes so far (fewer than changes under load). */
  public long batchesTotal() {
    return batches.get();
  }

  private CompletableFuture<Object> submit(Command c) {
    return enqueue(c, false);
  }

  private CompletableFuture<Object> query(Command c) {
    return enqueue(c, true);
  }

  private CompletableFuture<Object> enqueue(Command c, boolean query) {
    CompletableFuture<Object> done = new CompletableFuture<>();
    if (stopped) {
      done.completeExceptionally(new IllegalStateException("forwarding service is closed"));
    } else {
      queue.add(new Queued(c, done, query));
    }
    return done;
  }

  private void loop() {
    List<Queued> drained = new ArrayList<>();
    while (!stopped || !queue.isEmpty()) {
      try {
        Queued first = queue.poll(nextWakeMs(), TimeUnit.MILLISECONDS);
        if (first != null) {
          drained.add(first);
          queue.drainTo(drained);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        stopped = true;
      }
      List<Turn> turns = new ArrayList<>();
      guard.lock();
      try {
        Turn turn = new Turn();
        turns.add(turn);
        for (Queued q : drained) {
          if (q.query()) {
            turn.commit(); // keep the order queries were asked in
            turn = new Turn();
            turns.add(turn);
            turn.ask(q);
            turn = new Turn();
            turns.add(turn);
          } else {
            turn.add(q);
          }
        }
        turn.commit();
        forgetLate();
        if (mirror != null) mirror.expire(nanoClock.getAsLong());
        tracked = entries.size();
      } finally {
        guard.unlock();
      }
      // Outside the guard: a future's callbacks run here and may commit batches of their own.
      for (Turn t : turns) t.settle();
      drained.clear();
    }
    guard.lock();
    try {
      shutDown();
    } finally {
      guard.unlock();
    }
    // A command queued while the service was stopping: nobody will apply it.
    for (Queued q; (q = queue.poll()) != null; ) {
      q.done().completeExceptionally(new IllegalStateException("forwarding service is closed"));
    }
  }

  /**
   * The changes of one turn: planned one command after the other and committed in one batch under
   * the guard; their futures settled after it is released ({@link #settle}).
   */
  private final class Turn {
    private final List<Op> ops = new ArrayList<>();
    private final List<Queued> commands = new ArrayList<>();
    private final List<Object> results = new ArrayList<>();
    private final List<Throwable> failures = new ArrayList<>();
    private final List<Integer> ends = new ArrayList<>();

    /** Plans {@code q}: its bookkeeping changes now, its kernel changes at {@link #commit}. */
    void add(Queued q) {
      int mark = ops.size();
      try {
        Object result = q.command().plan(ops);
        record(q, result, null);
      } catch (RuntimeException e) {
        ops.subList(mark, ops.size()).clear(); // none of a failed plan's changes
        record(q, null, e);
      }
      ends.add(ops.size());
    }

    /** Runs query {@code q} now (it changes nothing in the kernel). */
    void ask(Queued q) {
      try {
        record(q, q.command().plan(List.of()), null);
      } catch (CompletionException e) {
        record(q, null, e.getCause());
      } catch (RuntimeException e) {
        record(q, null, e);
      }
      ends.add(ops.size());
    }

    void fail(List<Queued> qs, Throwable why) {
      for (Queued q : qs) {
        record(q, null, why);
        ends.add(ops.size());
      }
    }

    private void record(Queued q, Object result, Throwable failure) {
      commands.add(q);
      results.add(result);
      failures.add(failure);
    }

    void commit() {
      if (ops.isEmpty()) return;
      try {
        table.apply(ops);
        batches.incrementAndGet();
        if (mirror != null) mirror.applied(ops, nanoClock.getAsLong());
      } catch (LinuxException | RuntimeException batchFailure) {
        // The batch and its tolerant retry failed: retry command by command, so that one
        // command's failure does not fail the others.
        int from = 0;
        for (int i = 0; i < commands.size(); i++) {
          int to = ends.get(i);
          if (failures.get(i) == null) {
            try {
              for (Op op : ops.subList(from, to)) table.applyTolerant(op);
              if (mirror != null) mirror.applied(ops.subList(from, to), nanoClock.getAsLong());
            } catch (LinuxException | RuntimeException e) {
              failures.set(i, e);
              if (mirror != null) mirror.notApplied(ops.subList(from, to));
            }
          }
          from = to;
        }
      }
    }

    /** Completes the futures, in order; call without holding the guard. */
    void settle() {
      for (int i = 0; i < commands.size(); i++) {
        if (failures.get(i) != null) {
          commands.get(i).done().completeExceptionally(failures.get(i));
        } else {
          commands.get(i).done().complete(results.get(i));
        }
      }
    }
  }

  /**
   * How long the owner may sleep when no command comes: until the first grace to forget ends (at
   * least {@link #LATE_POLL_MS}), {@link #QUIET_POLL_MS} when none is pending, {@link
   * #IDLE_POLL_MS} while the BPF flow map is attached. A grace that starts meanwhile is forgotten
   * late, which only keeps its record a little longer.
   */
  private long nextWakeMs() {
    if (mirror != null) return IDLE_POLL_MS;
    guard.lock();
    try {
      if (late.isEmpty()) return QUIET_POLL_MS;
      long ms = TimeUnit.NANOSECONDS.toMillis(late.peekFirst().untilNs() - nanoClock.getAsLong());
      return Math.clamp(ms, LATE_POLL_MS, QUIET_POLL_MS);
    } finally {
      guard.unlock();
    }
  }

  /**
   * Forgets the closed connections whose grace is over (the kernel's timeout removed them); under
   * the guard.
   */
  private void forgetLate() {
    long now = nanoClock.getAsLong();
    while (!late.isEmpty() && late.peekFirst().untilNs() - now <= 0) {
      Late l = late.removeFirst();
      // A later close of the same 4-tuple has its own record.
      lateUntil.remove(l.flow(), l.untilNs());
    }
  }

  private void shutDown() {
    try {
      if (deleteOnStop) {
        table.deleteTable();
      } else {
        table.close();
      }
    } catch (LinuxException | RuntimeException e) {
      log.warn(
          "cannot {} forwarding table {}: {}",
          deleteOnStop ? "delete" : "close",
          table.name(),
          e.getMessage());
    } finally {
      try {
        lock.close();
      } catch (LinuxException e) {
        log.warn("cannot release {}: {}", lock.path(), e.getMessage());
      }
    }
  }

  /**
   * Stops the owner thread and releases the lock; the table and its entries stay in the kernel, so
   * established connections keep flowing until the next dispatcher adopts them. Commands already
   * queued are applied first.
   */
  @Override
  public void close() {
    stopAndWait();
  }

  /** Deletes the table (forwarding of every entry stops), then closes. For tests and operators. */
  public void deleteTable() {
    deleteOnStop = true;
    stopAndWait();
  }

  private void stopAndWait() {
    stopped = true;
    // Wakes the owner at once (it may sleep up to QUIET_POLL_MS): a command that changes nothing.
    queue.add(new Queued(ops -> null, new CompletableFuture<>(), false));
    try {
      owner.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
