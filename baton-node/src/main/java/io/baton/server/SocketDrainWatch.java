package io.baton.server;

import io.baton.linux.LinuxException;
import io.baton.linux.TcpSocketDiag;
import io.baton.log.RateLimitedLog;
import io.baton.transplant.FlowKey;
import java.time.Duration;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link KernelRelease} by asking the kernel ({@link TcpSocketDiag}) about each closed connection
 * until its socket is gone, in TIME_WAIT or CLOSE: first {@link #FIRST_CHECK_NS} after the close,
 * then at doubling intervals up to {@link #MAX_INTERVAL_NS} (the timer ticks every {@link
 * #FIRST_CHECK_NS} while any report waits, and asks only about the connections due). A socket whose
 * unacknowledged bytes and state stay the same for {@code stall} (a client that stopped reading, or
 * never sends its FIN) is reported anyway; the kernel's own limits end it later.
 *
 * <p>The lookups run on one timer thread, which owns the pending list; {@link #afterRelease} is
 * safe from any thread.
 */
final class SocketDrainWatch implements KernelRelease {
  private static final Logger log = LoggerFactory.getLogger(SocketDrainWatch.class);
  private static final RateLimitedLog stalledLog =
      new RateLimitedLog(log, "connection the kernel made no progress with", 10);

  static final long FIRST_CHECK_NS = TimeUnit.MILLISECONDS.toNanos(10);
  static final long MAX_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(640);

  /** The kernel's view of one connection's server socket; null when it has none. */
  @FunctionalInterface
  interface Lookup {
    TcpSocketDiag.Found find(FlowKey flow) throws LinuxException;
  }

  private final class Pending {
    final FlowKey flow;
    final Runnable report;
    long dueNs;
    long intervalNs = FIRST_CHECK_NS;
    long progressNs;
    TcpSocketDiag.Found last;

    Pending(FlowKey flow, Runnable report, long now) {
      this.flow = flow;
      this.report = report;
      this.dueNs = now + FIRST_CHECK_NS;
      this.progressNs = now;
    }
  }

  private final Lookup lookup;
  private final LongSupplier nanoTime;
  private final long stallNs;
  private final Queue<Pending> arrived = new ConcurrentLinkedQueue<>();

  /** By due time; the timer thread's only. */
  private final PriorityQueue<Pending> pending =
      new PriorityQueue<>((a, b) -> Long.compare(a.dueNs - b.dueNs, 0));

  private final ScheduledExecutorService timer;
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicInteger waiting =
      new java.util.concurrent.atomic.AtomicInteger();
  private final Runnable onClose;

  /**
   * @param timer one thread that runs every lookup ({@code null}: the caller drives {@link #poll})
   * @param onClose releases what the lookup holds
   */
  SocketDrainWatch(
      Lookup lookup,
      LongSupplier nanoTime,
      Duration stall,
      ScheduledExecutorService timer,
      Runnable onClose) {
    this.lookup = lookup;
    this.nanoTime = nanoTime;
    this.stallNs = stall.toNanos();
    this.timer = timer;
    this.onClose = onClose;
  }

  /**
   * A watch over the calling thread's network namespace (where the agent's sockets are), on a
   * thread of its own.
   */
  static SocketDrainWatch open(Duration stall) throws LinuxException {
    TcpSocketDiag diag = TcpSocketDiag.open();
    ScheduledExecutorService timer =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-drain-watch");
              t.setDaemon(true);
              return t;
            });
    Lookup lookup =
        flow -> diag.find(flow.localIp(), flow.localPort(), flow.clientIp(), flow.clientPort());
    return new SocketDrainWatch(
        lookup,
        System::nanoTime,
        stall,
        timer,
        () -> {
          timer.shutdownNow();
          try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
            diag.close();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          } catch (LinuxException e) {
            log.debug("closing the socket lookup: {}", e.getMessage());
          }
        });
  }

  @Override
  public void afterRelease(FlowKey flow, Runnable report) {
    waiting.incrementAndGet();
    arrived.add(new Pending(flow, report, nanoTime.getAsLong()));
    if (timer != null && scheduled.compareAndSet(false, true)) schedule(FIRST_CHECK_NS);
  }

  private void schedule(long delayNs) {
    try {
      timer.schedule(this::tick, delayNs, TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: the agent is stopping, its fabric sessions with it
    }
  }

  /** Every {@link #FIRST_CHECK_NS} while a report waits; the lookups only for those due. */
  private void tick() {
    try {
      poll();
    } finally {
      // Whatever happened, the next tick comes while a report waits: one lost tick would hold
      // every later close's report back for good.
      scheduled.set(false);
      if ((!pending.isEmpty() || !arrived.isEmpty()) && scheduled.compareAndSet(false, true))
        schedule(FIRST_CHECK_NS);
    }
  }

  /**
   * Checks the connections that are due; runs the reports of those the kernel is done with. Returns
   * when the next check is due ({@link System#nanoTime} scale), or -1 if none is pending. On the
   * timer thread.
   */
  long poll() {
    for (Pending p; (p = arrived.poll()) != null; ) pending.add(p);
    long now = nanoTime.getAsLong();
    for (Pending p; (p = pending.peek()) != null && p.dueNs - now <= 0; ) {
      pending.poll();
      if (released(p, now)) {
        run(p);
      } else {
        p.intervalNs = Math.min(p.intervalNs * 2, MAX_INTERVAL_NS);
        p.dueNs = now + p.intervalNs;
        pending.add(p);
      }
    }
    Pending first = pending.peek();
    return first == null ? -1 : first.dueNs;
  }

  private boolean released(Pending p, long now) {
    TcpSocketDiag.Found found;
    try {
      found = lookup.find(p.flow);
    } catch (LinuxException | RuntimeException e) {
      log.warn("{}: cannot ask the kernel about the closed connection: {}", p.flow, e.toString());
      return true; // reported as closed: a wait nobody can end would keep it forever
    }
    if (found == null
        || found.state() == TcpSocketDiag.TIME_WAIT
        || found.state() == TcpSocketDiag.CLOSE) return true;
    if (!found.equals(p.last)) {
      p.last = found;
      p.progressNs = now;
      return false;
    }
    if (now - p.progressNs >= stallNs) {
      stalledLog.info(
          "{}: reported closed although the kernel still holds it (state {}, {} bytes"
              + " unacknowledged, no progress for {} ms)",
          p.flow,
          found.state(),
          found.unacknowledged(),
          TimeUnit.NANOSECONDS.toMillis(now - p.progressNs));
      return true;
    }
    return false;
  }

  @Override
  public int waiting() {
    return waiting.get();
  }

  private void run(Pending p) {
    waiting.decrementAndGet();
    try {
      p.report.run();
    } catch (RuntimeException e) {
      log.warn("{}: reporting the close failed", p.flow, e);
    }
  }

  @Override
  public void close() {
    onClose.run();
  }
}
