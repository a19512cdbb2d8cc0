package io.baton.netty;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Waits until every event loop of a group has run the tasks queued on it so far.
 *
 * <p>A listener accepts on its own loop and registers each accepted connection on the next loop of
 * its child group with a task queued there: until that task runs, the connection's handlers have
 * seen nothing of it. Closing the listener does not wait for those tasks. A caller that counts
 * connections in their handlers (a stopping dispatcher draining its first-request phase) runs this
 * after closing its listeners, and then counts every connection they accepted.
 */
public final class LoopBarrier {
  private LoopBarrier() {}

  /**
   * Queues an empty task on every loop of {@code group} (a listener's child group: where the
   * connections it accepts are registered) and waits for them all, at most {@code limit}; a loop
   * that is the calling thread, or is shutting down, is skipped.
   *
   * @return whether every task ran within {@code limit}
   */
  public static boolean await(EventExecutorGroup group, Duration limit) {
    List<Future<?>> passed = new ArrayList<>();
    for (EventExecutor loop : group) {
      if (loop.inEventLoop() || loop.isShuttingDown()) continue;
      passed.add(loop.submit(() -> {}));
    }
    long deadline = System.nanoTime() + limit.toNanos();
    for (Future<?> f : passed) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) return false;
    }
    return true;
  }
}
