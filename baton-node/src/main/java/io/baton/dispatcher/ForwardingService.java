package io.baton.dispatcher;

import io.baton.forwarding.DirectForwardingTable;
import io.baton.forwarding.DirectForwardingTable.Op;
import io.baton.forwarding.Vip;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the dispatcher's {@link DirectForwardingTable} on one thread ("baton-forwarding"), like an
 * Aeron conductor: other threads queue commands and get futures. Every turn of the loop drains
 * the whole queue into one nf_tables netlink batch, so under load many handoffs share one
 * kernel transaction. Closed connections keep their entry for a grace period (late FIN/ACKs must still reach
 * the server, or the dispatcher's stack would answer them with RSTs) and then leave in batches.
 *
 * <p>Thread-safe; the table is touched only by the owner thread, which is created in the network
 * namespace of the thread that calls {@link #start}.
 */
public final class ForwardingService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ForwardingService.class);
  private static final long IDLE_POLL_MS = 50;

  private sealed interface Command permits Change, Query, Stop {}

  private record Change(Op op, CompletableFuture<Void> done) implements Command {}

  private record Query(Callable<Object> read, CompletableFuture<Object> done) implements Command {}

  private record Stop() implements Command {}

  /** A closed connection's entry, due for removal; {@code generation} names that connection's entry. */
  private record Retired(FlowKey flow, long dueNs, long generation) {}

  private final LinkedBlockingQueue<Command> queue = new LinkedBlockingQueue<>();
  private final ArrayDeque<Retired> retired = new ArrayDeque<>(); // owner thread only
  // Which handoff installed each flow's current entry (owner thread only). A client may reuse its
  // port for a new connection while the old one's entry waits out its grace period; the
  // generation keeps the old removal from deleting the new connection's entry.
  private final java.util.HashMap<FlowKey, Long> generations = new java.util.HashMap<>();
  private long lastGeneration; // owner thread only
  private final DirectForwardingTable table;
  private final Duration closeGrace;
  private final Thread owner;
  private final AtomicLong installed = new AtomicLong();
  private final AtomicLong removed = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private volatile boolean stopped;

  private ForwardingService(DirectForwardingTable table, Duration closeGrace, Thread owner) {
    this.table = table;
    this.closeGrace = closeGrace;
    this.owner = owner;
  }

  /** Creates the table (replacing a stale one of the same name) on a new owner thread. */
  public static ForwardingService start(String tableName, String frontDevice, String fabricDevice,
      Collection<Vip> vips, Duration entryTimeout, Duration closeGrace) throws LinuxException {
    CompletableFuture<ForwardingService> started = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      DirectForwardingTable table;
      try {
        table = DirectForwardingTable.create(tableName, frontDevice, fabricDevice, vips, entryTimeout);
      } catch (LinuxException | RuntimeException e) {
        started.completeExceptionally(e);
        return;
      }
      ForwardingService service = new ForwardingService(table, closeGrace, Thread.currentThread());
      started.complete(service);
      service.loop();
    }, "baton-forwarding");
    t.setDaemon(true);
    t.start();
    try {
      return started.join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof LinuxException le) throw le;
      throw new IllegalStateException("cannot create forwarding table " + tableName, e.getCause());
    }
  }

  // STUB API (the forwarding branch replaces these with the real adoption/token logic).
  public static ForwardingService start(String tableName, String frontDevice, String fabricDevice,
      Collection<Vip> vips, Duration closeGrace, java.util.function.LongSupplier nanoClock) throws LinuxException {
    return start(tableName, frontDevice, fabricDevice, vips, Duration.ofHours(1), closeGrace);
  }

  public java.util.Map<FlowKey, Inet4Address> adopted() {
    return java.util.Map.of();
  }

  public CompletableFuture<Void> freezeAndForward(FlowKey flow, Inet4Address server, long token) {
    return freezeAndForward(flow, server);
  }

  public CompletableFuture<Void> cancel(FlowKey flow, long token) {
    return cancel(flow);
  }

  public CompletableFuture<Boolean> retire(FlowKey flow, Inet4Address server, long token) {
    retire(flow);
    return CompletableFuture.completedFuture(true);
  }

  public CompletableFuture<Integer> dropServer(Inet4Address server) {
    return CompletableFuture.completedFuture(0);
  }

  public record Reconciled(int removed, int added) {}

  public CompletableFuture<Reconciled> reconcile(Inet4Address server, java.util.Map<FlowKey, Long> owned,
      long sessionUpNs) {
    return CompletableFuture.completedFuture(new Reconciled(0, 0));
  }

  /** Drops this host's output on {@code flow} and forwards the client's packets to {@code server}. */
  public CompletableFuture<Void> freezeAndForward(FlowKey flow, Inet4Address server) {
    return change(new DirectForwardingTable.FreezeAndForward(flow, server));
  }

  /** The old socket is closed: stop dropping its output. */
  public CompletableFuture<Void> unfreeze(FlowKey flow) {
    return change(new DirectForwardingTable.Unfreeze(flow));
  }

  /** The handoff was abandoned; the connection stays here. */
  public CompletableFuture<Void> cancel(FlowKey flow) {
    return change(new DirectForwardingTable.Cancel(flow));
  }

  /** The owner reported {@code flow} closed: remove its entry after the grace period. */
  public void retire(FlowKey flow) {
    query(() -> {
      retired.addLast(new Retired(flow, System.nanoTime() + closeGrace.toNanos(),
          generations.getOrDefault(flow, -1L)));
      return null;
    });
  }

  /** Entries in the kernel's map now. */
  public CompletableFuture<Integer> size() {
    return query(table::size).thenApply(o -> (Integer) o);
  }

  public long installedTotal() {
    return installed.get();
  }

  public long removedTotal() {
    return removed.get();
  }

  /** Netlink batches sent for changes so far (fewer than changes under load). */
  public long batchesTotal() {
    return batches.get();
  }

  private CompletableFuture<Void> change(Op op) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (stopped) {
      done.completeExceptionally(new IllegalStateException("forwarding service is closed"));
    } else {
      queue.add(new Change(op, done));
    }
    return done;
  }

  private CompletableFuture<Object> query(Callable<Object> read) {
    CompletableFuture<Object> done = new CompletableFuture<>();
    if (stopped) {
      done.completeExceptionally(new IllegalStateException("forwarding service is closed"));
    } else {
      queue.add(new Query(read, done));
    }
    return done;
  }

  private void loop() {
    List<Command> drained = new ArrayList<>();
    while (true) {
      try {
        Command first = queue.poll(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
        if (first != null) {
          drained.add(first);
          queue.drainTo(drained);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        drained.add(new Stop());
      }
      boolean stop = false;
      List<Change> changes = new ArrayList<>();
      for (Command c : drained) {
        switch (c) {
          case Change ch -> changes.add(ch);
          case Query q -> {
            applyChanges(changes); // keep the order queries were asked in
            changes.clear();
            try {
              q.done().complete(q.read().call());
            } catch (Exception | Error e) {
              q.done().completeExceptionally(e);
            }
          }
          case Stop s -> stop = true;
        }
      }
      applyChanges(changes);
      drained.clear();
      reapDue();
      if (stop) {
        closeTable();
        return;
      }
    }
  }

  private void applyChanges(List<Change> changes) {
    if (changes.isEmpty()) return;
    List<Op> ops = new ArrayList<>(changes.size());
    for (Change c : changes) ops.add(c.op());
    try {
      table.apply(ops);
      batches.incrementAndGet();
      for (Change c : changes) {
        switch (c.op()) {
          case DirectForwardingTable.FreezeAndForward f -> {
            installed.incrementAndGet();
            generations.put(f.flow(), ++lastGeneration);
          }
          case DirectForwardingTable.Cancel x -> generations.remove(x.flow());
          case DirectForwardingTable.Remove x -> generations.remove(x.flow());
          case DirectForwardingTable.Unfreeze x -> { }
        }
        c.done().complete(null);
      }
    } catch (LinuxException | RuntimeException e) {
      for (Change c : changes) c.done().completeExceptionally(e);
    }
  }

  private void reapDue() {
    List<Op> due = new ArrayList<>();
    long now = System.nanoTime();
    while (!retired.isEmpty() && retired.peekFirst().dueNs() <= now) {
      Retired r = retired.removeFirst();
      Long current = generations.get(r.flow());
      if (current != null && current == r.generation()) {
        due.add(new DirectForwardingTable.Remove(r.flow()));
        generations.remove(r.flow());
      }
      // Otherwise a newer connection on the same client address and port owns the entry now.
    }
    if (due.isEmpty()) return;
    try {
      table.apply(due);
      batches.incrementAndGet();
      removed.addAndGet(due.size());
    } catch (LinuxException | RuntimeException e) {
      log.warn("cannot remove {} forwarding entries (they expire by timeout): {}", due.size(), e.getMessage());
    }
  }

  private void closeTable() {
    try {
      table.close();
    } catch (LinuxException | RuntimeException e) {
      log.warn("cannot delete forwarding table {}: {}", table.name(), e.getMessage());
    }
  }

  @Override
  public void close() {
    if (stopped) return;
    stopped = true;
    queue.add(new Stop());
    try {
      owner.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
