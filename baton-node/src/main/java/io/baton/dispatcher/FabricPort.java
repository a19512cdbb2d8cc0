package io.baton.dispatcher;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffReply;
import java.util.concurrent.CompletableFuture;

/**
 * The dispatcher's view of its fabric connections to the servers (one {@code HandoffClient} per
 * server in production). Any thread may call it; the futures complete on a fabric event loop, not
 * the caller's thread.
 */
interface FabricPort {
  /** {@link #session} of a server whose fabric session is down. */
  long NO_SESSION = 0;

  /**
   * The session with {@code node} now (a number that changes with every new session), or {@link
   * #NO_SESSION}.
   */
  long session(String node);

  /** A fresh handoff id for {@code node}. */
  long nextHandoffId(String node);

  /**
   * Sends a HANDOFF on {@code session}; completes with the answer, or fails (not delivered) at once
   * when that session is no longer the current one (see {@code HandoffClient#send}).
   */
  CompletableFuture<HandoffReply> send(String node, long session, FabricMessage.Handoff handoff);

  /** Sends ABORT for an overdue handoff; false if it could not be sent. */
  boolean abort(String node, long handoffId);

  /** Stops waiting for {@code handoffId}; its future fails (maybe delivered). */
  void forget(String node, long handoffId, String why);
}
