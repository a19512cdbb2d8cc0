package io.baton.dispatcher;

import io.baton.transplant.FlowKey;
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;

/**
 * The kernel forwarding table as a handoff uses it ({@link LoopBatchedForwarding} over {@code
 * ForwardingService} in production). The handoff's socket drops its own output while frozen (its
 * mark, set by the {@link Transplanter}), so the table only forwards. Called on the connection's
 * event loop; changes are applied in the order asked.
 */
interface ForwardingPort {
  /** Forwards the client's packets on {@code flow} to {@code server}, for handoff {@code token}. */
  CompletableFuture<Void> forward(FlowKey flow, InetAddress server, long token);

  /** The handoff {@code token} was abandoned: remove its entry (if still its own). */
  CompletableFuture<Void> cancel(FlowKey flow, long token);
}
