package io.baton.dispatcher;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffReply;
import java.util.concurrent.CompletableFuture;

/**
 * The dispatcher's view of its fabric connections to the servers (one {@code HandoffClient} per
 * server in production). The futures complete on a fabric event loop, not the caller's thread.
 */
interface FabricPort {
  /** Whether the session with {@code node} is up now. */
  boolean isUp(String node);

  /** A fresh handoff id for {@code node}. */
  long nextHandoffId(String node);

  /** Sends a HANDOFF; completes with the answer (see {@code HandoffClient#send(Handoff)}). */
  CompletableFuture<HandoffReply> send(String node, FabricMessage.Handoff handoff);

  /** Sends ABORT for an overdue handoff; false if it could not be sent. */
  boolean abort(String node, long handoffId);

  /** Stops waiting for {@code handoffId}; its future fails (maybe delivered). */
  void forget(String node, long handoffId, String why);
}
