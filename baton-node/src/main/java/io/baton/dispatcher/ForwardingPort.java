package io.baton.dispatcher;

import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.concurrent.CompletableFuture;

/**
 * The kernel forwarding table as a handoff uses it ({@link ForwardingService} in production).
 * Any thread may call it; changes are applied in the order asked; futures complete on the table's
 * owner thread.
 */
interface ForwardingPort {
  /** Drops our output on {@code flow} and forwards the client's packets to {@code server}. */
  CompletableFuture<Void> freezeAndForward(FlowKey flow, Inet4Address server, long token);

  /** Our copy is closed: stop dropping its output. */
  CompletableFuture<Void> unfreeze(FlowKey flow);

  /** The handoff {@code token} was abandoned: remove its entry and freeze (if still its own). */
  CompletableFuture<Void> cancel(FlowKey flow, long token);
}
