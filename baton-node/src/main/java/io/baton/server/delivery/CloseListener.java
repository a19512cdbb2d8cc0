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

  /**
   * As {@link #onClosed(long, long)}, from a delivery that looked at the socket before closing it.
   *
   * @param kernelDone the kernel was already done with the connection when the delivery closed it
   *     (the client's FIN received and the server's acknowledged, so the connection had passed to
   *     TIME_WAIT; or reset), as the drain watch would have found it: nobody has to watch the
   *     socket drain (see {@code KernelRelease}). A retransmitted FIN that the time-wait socket
   *     answers is covered by the dispatchers' close grace, as after the watch. False when the
   *     delivery cannot tell.
   */
  default void onClosed(long bytesFromClient, long bytesToClient, boolean kernelDone) {
    onClosed(bytesFromClient, bytesToClient);
  }
}
