package io.baton.server.delivery;

import io.baton.migration.SafePoint;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;

/**
 * A delivered connection as a live migration sees it: its event loop, its socket, and the
 * application's safe point. Every method but {@link #loop} runs on that loop.
 */
public interface Movable {

  /** The connection's event loop. */
  EventExecutor loop();

  /** The connected socket (the delivery owns and closes it). */
  int fd();

  /** Bytes read from the client here so far; from any thread (as last seen). */
  long bytesIn();

  /** Bytes written to the client here so far; from any thread (as last seen). */
  long bytesOut();

  /** Whether the connection is still open here. */
  boolean isOpen();

  /**
   * Asks the application to stop at its next safe point ({@link io.baton.migration.Migratable});
   * fails {@code point} at once, saying why, when this connection cannot move.
   */
  void suspend(Promise<SafePoint> point);

  /**
   * Like {@link #suspend}, for an operator who forces the move of a connection without a safe point
   * (an l4 or tls relay, a relay that stopped following HTTP, an application without a {@link
   * io.baton.migration.Migratable}) and accepts the risk: reading stops, what was taken is
   * delivered, and the connection moves as it is, without its application's state (an upstream
   * connection, a TLS session, bytes read but not consumed). A connection that has a safe point
   * still waits for it.
   */
  void forceSuspend(Promise<SafePoint> point);

  /** The move is off: the application carries on. */
  void resume();

  /**
   * The connection now lives elsewhere: closes this copy (the caller has made the close silent) and
   * tells the delivery's close listener, as for any close.
   */
  void close();

  /** Closes this copy with a RST (a move whose outcome is unknown: the target may own it). */
  void reset();
}
