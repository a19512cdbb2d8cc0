package io.baton.dispatcher;

import io.baton.dataplane.ForwardingService;
import io.baton.transplant.FlowKey;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.internal.ThreadExecutorMap;
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The handoffs' {@link ForwardingPort}: each event loop collects the forwarding changes its
 * handoffs ask for during one turn and commits them in one nf_tables batch from a task at the end
 * of that turn, on its own thread ({@link ForwardingService.Batch}). Nothing wakes another thread:
 * a handoff's changes cost one netlink round trip shared with the loop's other handoffs of that
 * turn, and the futures complete on the loop that asked.
 *
 * <p>Called from a thread that is not a Netty event loop (tests, shutdown paths), a change goes
 * through the service's owner thread as before.
 *
 * <p>Thread-safe: the per-loop state is confined to its loop.
 */
final class LoopBatchedForwarding implements ForwardingPort {
  private final ForwardingService service;
  private final FastThreadLocal<LoopBatch> batches = new FastThreadLocal<>();
  private final java.util.Set<LoopBatch> all = java.util.concurrent.ConcurrentHashMap.newKeySet();

  LoopBatchedForwarding(ForwardingService service) {
    this.service = service;
  }

  /**
   * On an event loop with the BPF flow map attached, the entry goes into the map at once and the
   * returned future is already complete: the handoff goes on while the nftables record joins the
   * loop's batch, committed at the end of the turn but after the tasks queued by then ({@link
   * LoopBatch#addAfterQueued}). The HANDOFF's flush is one of them (the fabric connection's {@code
   * FlushConsolidationHandler} queues it when the handoff sends): committed before it, as a plain
   * end-of-turn commit would be, the record held the HANDOFF back by the commit's whole length.
   * Held back any longer (tried: up to 1 ms, like a close), the server's CLOSED could be planned on
   * another loop before its forward, find no entry of its token and leave the entry for good. A
   * record the table refuses is logged (the map forwards the connection; a restarted dispatcher has
   * it back from the server's inventory). Otherwise the future completes with the loop's commit at
   * the end of the turn.
   */
  @Override
  public CompletableFuture<Void> forward(FlowKey flow, InetAddress server, long token) {
    LoopBatch b = loopBatch();
    if (b == null) return service.forward(flow, server, token);
    Object ahead = service.forwardAhead(flow, server, token);
    if (ahead == null) return b.add(batch -> batch.forward(flow, server, token));
    b.addAfterQueued(batch -> batch.forwardAhead(flow, server, token, ahead))
        .whenComplete(
            (ok, error) -> {
              if (error != null) {
                unrecordedLog.warn(
                    "{}: forwarded by the BPF flow map, but the nftables table refused its"
                        + " record ({}): a dispatcher restart loses it until its server's next"
                        + " inventory",
                    flow,
                    error.getMessage());
              }
            });
    return FORWARDED;
  }

  private static final CompletableFuture<Void> FORWARDED = CompletableFuture.completedFuture(null);

  private static final io.baton.log.RateLimitedLog unrecordedLog =
      new io.baton.log.RateLimitedLog(
          org.slf4j.LoggerFactory.getLogger(LoopBatchedForwarding.class), "unrecorded forwards", 5);

  @Override
  public CompletableFuture<Void> cancel(FlowKey flow, long token) {
    LoopBatch b = loopBatch();
    return b == null ? service.cancel(flow, token) : b.add(batch -> batch.cancel(flow, token));
  }

  /**
   * As {@link ForwardingService#retire}: the server reported the close. On the fabric connection's
   * event loop this joins that loop's batch (one CLOSED per connection: queuing it for the owner
   * thread would wake that thread once per connection), committed with the loop's next change or
   * within {@link #CLOSE_COMMIT_DELAY_NS}.
   */
  CompletableFuture<Boolean> retire(FlowKey flow, InetAddress server, long token) {
    LoopBatch b = loopBatch();
    return b == null
        ? service.retire(flow, server, token)
        : b.addSoon(batch -> batch.retire(flow, server, token));
  }

  /** This event loop's batch, or null when the caller is not an event loop. */
  private LoopBatch loopBatch() {
    LoopBatch b = batches.getIfExists();
    if (b != null) return b;
    EventExecutor loop = ThreadExecutorMap.currentExecutor();
    if (loop == null || !loop.inEventLoop()) return null;
    b = new LoopBatch(loop, service.batch());
    batches.set(b);
    all.add(b);
    return b;
  }

  /**
   * Commits every loop's pending changes now and waits for them, up to {@code limit}: a stopping
   * dispatcher's last records (forwards put ahead, closes) must reach the table that outlives it.
   * Call from outside the loops, with them still running.
   */
  void flush(java.time.Duration limit) {
    long deadline = System.nanoTime() + limit.toNanos();
    var done = new java.util.ArrayList<io.netty.util.concurrent.Future<?>>();
    for (LoopBatch b : all) {
      if (!b.loop.isShuttingDown()) done.add(b.loop.submit(b::commitNow));
    }
    for (var f : done) {
      long left = Math.max(0, deadline - System.nanoTime());
      f.awaitUninterruptibly(TimeUnit.NANOSECONDS.toMillis(left));
    }
  }

  /**
   * How long a close may wait for the loop's next commit before it gets one of its own. Under load
   * a handoff's forward commits every fraction of a millisecond and takes the closes along (a
   * commit of its own cost each close ~15 µs, measured: 112 against 98 µs per handoff); idle, a
   * close reaches the kernel this much later. Until then the closed connection's entry still
   * forwards to its server, and a client reusing the 4-tuple within this window would have its new
   * handshake's ACK forwarded there too, so it stays short.
   */
  static final long CLOSE_COMMIT_DELAY_NS = 1_000_000;

  /** One loop's pending changes; confined to that loop. */
  private static final class LoopBatch {
    private final EventExecutor loop;
    private final ForwardingService.Batch batch;
    private final Runnable commit = this::commit;
    private final Runnable commitSoon = this::commitSoon;
    private final Runnable requeueCommit = this::requeueCommit;
    private boolean scheduled;
    private boolean scheduledSoon;

    LoopBatch(EventExecutor loop, ForwardingService.Batch batch) {
      this.loop = loop;
      this.batch = batch;
    }

    <T> CompletableFuture<T> add(Function<ForwardingService.Batch, CompletableFuture<T>> change) {
      if (!scheduled) {
        // A task queued from the loop itself wakes nobody; it runs after this turn's I/O, so the
        // changes of every connection handled in this turn share the commit.
        scheduled = true;
        loop.execute(commit);
      }
      return change.apply(batch);
    }

    /**
     * As {@link #add}, but the commit runs after the tasks queued on the loop so far and those
     * queued by the end of the current task (the first task it queues queues the commit again).
     */
    <T> CompletableFuture<T> addAfterQueued(
        Function<ForwardingService.Batch, CompletableFuture<T>> change) {
      if (!scheduled) {
        scheduled = true;
        loop.execute(requeueCommit);
      }
      return change.apply(batch);
    }

    /**
     * As {@link #add}, but the change waits up to {@link #CLOSE_COMMIT_DELAY_NS} for another
     * change's commit to share.
     */
    <T> CompletableFuture<T> addSoon(
        Function<ForwardingService.Batch, CompletableFuture<T>> change) {
      if (!scheduled && !scheduledSoon) {
        scheduledSoon = true;
        loop.schedule(commitSoon, CLOSE_COMMIT_DELAY_NS, TimeUnit.NANOSECONDS);
      }
      return change.apply(batch);
    }

    private void commit() {
      scheduled = false;
      batch.commit();
    }

    private void requeueCommit() {
      loop.execute(commit); // behind whatever the turn queued meanwhile (the HANDOFF's flush)
    }

    void commitNow() {
      batch.commit(); // the scheduled commits find nothing left
    }

    private void commitSoon() {
      scheduledSoon = false;
      batch.commit(); // nothing to do if a commit took the changes already
    }
  }
}
