package io.baton.lab;

import io.baton.linux.LinuxException;
import io.baton.linux.Netns;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single platform thread that lives in one network namespace, so that sockets created by the
 * tasks it runs belong to that namespace (a namespace is per thread in Linux, and a socket keeps
 * the namespace it was created in).
 *
 * <p>Every thread the executor ever starts enters the namespace before it runs its first task; one
 * that cannot enter exits without running any, so a task never runs in the wrong namespace.
 * Thread-safe: any thread may submit.
 */
final class NamespaceThread implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NamespaceThread.class);
  private static final long ENTER_TIMEOUT_MS = 10_000;
  private static final long STOP_TIMEOUT_MS = 5_000;

  private final String namespace;
  private final ExecutorService executor;

  private NamespaceThread(String namespace, ExecutorService executor) {
    this.namespace = namespace;
    this.executor = executor;
  }

  /** Starts the thread and returns once it runs inside {@code namespace}. */
  static NamespaceThread start(String namespace) {
    Path path = Netns.pathOf(namespace);
    ExecutorService executor =
        Executors.newSingleThreadExecutor(
            worker ->
                Thread.ofPlatform()
                    .name("lab-" + namespace)
                    .daemon(true)
                    .unstarted(() -> enterThenRun(path, worker)));
    NamespaceThread thread = new NamespaceThread(namespace, executor);
    try {
      String inside = executor.submit(Netns::current).get(ENTER_TIMEOUT_MS, TimeUnit.MILLISECONDS);
      log.debug("thread for {} runs in {}", namespace, inside);
      return thread;
    } catch (ExecutionException | TimeoutException e) {
      thread.close();
      throw new LabException("cannot start a thread inside namespace " + namespace, e);
    } catch (InterruptedException e) {
      thread.close();
      Thread.currentThread().interrupt();
      throw new LabException(
          "interrupted while starting a thread inside namespace " + namespace, e);
    }
  }

  private static void enterThenRun(Path path, Runnable worker) {
    try {
      Netns.enter(path);
    } catch (LinuxException e) {
      log.error("lab thread cannot enter {}; it runs no tasks", path, e);
      return;
    }
    worker.run();
  }

  ExecutorService executor() {
    return executor;
  }

  /** Runs {@code task} on this thread and waits for it; its exception is rethrown as is. */
  <T> T call(Callable<T> task) throws Exception {
    Future<T> future = executor.submit(task);
    try {
      return future.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception ex) throw ex;
      if (cause instanceof Error err) throw err;
      throw e;
    } catch (InterruptedException e) {
      future.cancel(true);
      throw e;
    }
  }

  /** Interrupts the running task, if any, and waits a bounded time for the thread to end. */
  @Override
  public void close() {
    executor.shutdownNow();
    try {
      if (!executor.awaitTermination(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
        log.warn(
            "thread in {} did not stop within {} ms; the namespace outlives its name",
            namespace,
            STOP_TIMEOUT_MS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
