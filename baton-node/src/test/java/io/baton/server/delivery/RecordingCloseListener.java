package io.baton.server.delivery;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Test close listener: counts its calls and completes a future with the first call's counts. */
final class RecordingCloseListener implements CloseListener {
  record Counts(long fromClient, long toClient) {}

  final AtomicInteger calls = new AtomicInteger();
  private final CompletableFuture<Counts> first = new CompletableFuture<>();

  /** What the first call said of the kernel; null before it, or when it used the short form. */
  volatile Boolean kernelDone;

  @Override
  public void onClosed(long bytesFromClient, long bytesToClient) {
    calls.incrementAndGet();
    first.complete(new Counts(bytesFromClient, bytesToClient));
  }

  @Override
  public void onClosed(long bytesFromClient, long bytesToClient, boolean kernelDone) {
    if (calls.get() == 0) this.kernelDone = kernelDone;
    onClosed(bytesFromClient, bytesToClient);
  }

  Counts await() throws Exception {
    return first.get(30, TimeUnit.SECONDS);
  }
}
