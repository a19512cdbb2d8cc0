package io.baton.server.delivery;

/**
 * Told when a delivered connection is over (closed by either side, reset, or never started), so the
 * server agent can report CLOSED to the dispatchers. A {@link Delivery} calls it exactly once per
 * connection, normally on the connection's event-loop thread (on the caller's thread when delivery
 * could not start): implementations must not block.
 */
@FunctionalInterface
public interface CloseListener {

  /**
   * @param bytesFromClient bytes read from the client's socket (request bytes replayed into the
   *     receive queue included)
   * @param bytesToClient bytes written to the client's socket (the unsent tail included)
   */
  void onClosed(long bytesFromClient, long bytesToClient);
}
