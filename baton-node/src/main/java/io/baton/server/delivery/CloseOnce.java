package io.baton.server.delivery;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guards a {@link CloseListener} so it runs at most once however many paths reach the end of a
 * connection, and so a listener that throws cannot disturb the event loop. Thread-safe.
 */
final class CloseOnce implements CloseListener {
  private static final Logger log = LoggerFactory.getLogger(CloseOnce.class);

  private final CloseListener delegate;
  private final ConnectionInfo info;
  private final AtomicBoolean done = new AtomicBoolean();

  CloseOnce(CloseListener delegate, ConnectionInfo info) {
    this.delegate = Objects.requireNonNull(delegate, "onClosed");
    this.info = Objects.requireNonNull(info, "info");
  }

  @Override
  public void onClosed(long bytesFromClient, long bytesToClient) {
    onClosed(bytesFromClient, bytesToClient, false);
  }

  @Override
  public void onClosed(long bytesFromClient, long bytesToClient, boolean kernelDone) {
    if (!done.compareAndSet(false, true)) return;
    try {
      delegate.onClosed(bytesFromClient, bytesToClient, kernelDone);
    } catch (RuntimeException e) {
      log.warn("close listener of {} failed: {}", info, e.toString());
    }
  }
}
