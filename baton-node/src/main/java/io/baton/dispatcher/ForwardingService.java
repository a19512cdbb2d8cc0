package io.baton.dispatcher;

import io.baton.forwarding.DirectForwardingTable;
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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the dispatcher's {@link DirectForwardingTable} on one thread ("baton-forwarding"), like
 * an Aeron conductor: other threads submit commands and get futures. Closed connections keep
 * their entry for a grace period (late FIN/ACKs must still reach the server, or the dispatcher's
 * stack would answer them with RSTs) and are then removed in batches.
 *
 * <p>Thread-safe; every table operation runs on the owner thread, which is created in the
 * calling thread's network namespace.
 */
public final class ForwardingService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ForwardingService.class);

  private final ScheduledExecutorService thread;
  private final DirectForwardingTable table;
  private final Duration closeGrace;
  private final ArrayDeque<Retired> retired = new ArrayDeque<>(); // owner thread only
  private final AtomicLong installed = new AtomicLong();
  private final AtomicLong removed = new AtomicLong();

  private record Retired(FlowKey flow, long dueNs) {}

  private ForwardingService(ScheduledExecutorService thread, DirectForwardingTable table, Duration closeGrace) {
    this.thread = thread;
    this.table = table;
    this.closeGrace = closeGrace;
    long periodMs = Math.max(50, closeGrace.toMillis() / 4);
    thread.scheduleWithFixedDelay(this::reapDue, periodMs, periodMs, TimeUnit.MILLISECONDS);
  }

  /** Creates the table (replacing a stale one of the same name) on a new owner thread. */
  public static ForwardingService start(String tableName, String frontDevice, String fabricDevice,
      Collection<Vip> vips, Duration entryTimeout, Duration closeGrace) throws LinuxException {
    ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "baton-forwarding");
      t.setDaemon(true);
      return t;
    });
    try {
      DirectForwardingTable table = thread.submit(
          () -> DirectForwardingTable.create(tableName, frontDevice, fabricDevice, vips, entryTimeout)).get();
      return new ForwardingService(thread, table, closeGrace);
    } catch (java.util.concurrent.ExecutionException e) {
      thread.shutdownNow();
      if (e.getCause() instanceof LinuxException le) throw le;
      throw new IllegalStateException("cannot create forwarding table " + tableName, e.getCause());
    } catch (InterruptedException e) {
      thread.shutdownNow();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted creating forwarding table", e);
    }
  }

  /** Drops this host's output on {@code flow} and forwards the client's packets to {@code server}. */
  public CompletableFuture<Void> freezeAndForward(FlowKey flow, Inet4Address server) {
    return run(() -> {
      table.freezeAndForward(flow, server);
      installed.incrementAndGet();
      return null;
    });
  }

  /** The old socket is closed: stop dropping its output. */
  public CompletableFuture<Void> unfreeze(FlowKey flow) {
    return run(() -> {
      table.unfreeze(flow);
      return null;
    });
  }

  /** The handoff was abandoned; the connection stays here. */
  public CompletableFuture<Void> cancel(FlowKey flow) {
    return run(() -> {
      table.cancel(flow);
      return null;
    });
  }

  /** The owner reported {@code flow} closed: remove its entry after the grace period. */
  public void retire(FlowKey flow) {
    thread.execute(() -> retired.addLast(new Retired(flow, System.nanoTime() + closeGrace.toNanos())));
  }

  /** Entries in the kernel's map now. */
  public CompletableFuture<Integer> size() {
    return run(table::size);
  }

  public long installedTotal() {
    return installed.get();
  }

  public long removedTotal() {
    return removed.get();
  }

  private void reapDue() {
    List<FlowKey> due = new ArrayList<>();
    long now = System.nanoTime();
    while (!retired.isEmpty() && retired.peekFirst().dueNs() <= now) {
      due.add(retired.removeFirst().flow());
    }
    if (due.isEmpty()) return;
    try {
      table.removeAll(due);
      removed.addAndGet(due.size());
    } catch (LinuxException | RuntimeException e) {
      log.warn("cannot remove {} forwarding entries (they expire by timeout): {}", due.size(), e.getMessage());
    }
  }

  private <T> CompletableFuture<T> run(Callable<T> op) {
    CompletableFuture<T> result = new CompletableFuture<>();
    try {
      thread.execute(() -> {
        try {
          result.complete(op.call());
        } catch (Exception | Error e) {
          result.completeExceptionally(e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      result.completeExceptionally(new IllegalStateException("forwarding service is closed"));
    }
    return result;
  }

  @Override
  public void close() {
    try {
      thread.submit(() -> {
        table.close();
        return null;
      }).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("cannot delete forwarding table {}: {}", table.name(), e.toString());
    } finally {
      thread.shutdownNow();
    }
  }
}
