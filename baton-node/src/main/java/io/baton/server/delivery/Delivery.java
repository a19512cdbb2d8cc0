package io.baton.server.delivery;

/**
 * How a restored connection reaches the application on a server: the last step after the agent has
 * rebuilt a handed-off TCP connection and answered ACCEPTED.
 *
 * <p>{@link #deliver} takes ownership of the descriptor in every case: it is closed when the
 * connection is over, or at once if delivery cannot even start, and {@code onClosed} is called
 * exactly once either way (with zero counts when nothing moved). Failures after that point are the
 * connection's, not the caller's: {@code deliver} does not throw for them.
 *
 * <p>Implementations are thread-safe: {@code deliver} may be called from any thread, for many
 * connections at once.
 */
public sealed interface Delivery permits RelayDelivery, PassingDelivery, EmbeddedDelivery {

  /**
   * Hands over a restored connection.
   *
   * @param fd a connected TCP socket whose receive queue may already hold the client's request
   *     bytes (replayed during the restore); made non-blocking here
   * @param unsentTail bytes the previous owner never sent; written to the client before anything
   *     else (empty when there are none)
   * @param info what the connection is, for logs
   * @param onClosed told once when the connection is over, with the bytes moved each way
   * @param onMovable given the connection as a live migration moves it (one that cannot move says
   *     why when asked) before the application can read a byte of it; on the caller's thread
   */
  void deliver(
      int fd,
      byte[] unsentTail,
      ConnectionInfo info,
      CloseListener onClosed,
      java.util.function.Consumer<Movable> onMovable);

  /** As above, for a caller that does not move connections. */
  default void deliver(int fd, byte[] unsentTail, ConnectionInfo info, CloseListener onClosed) {
    deliver(fd, unsentTail, info, onClosed, m -> {});
  }

  /**
   * Connections closed so far because nothing moved in either direction for the idle timeout given
   * at construction. Any thread.
   */
  long idleTimeouts();

  /**
   * Acknowledgements sent for clients whose dispatcher delayed its first ACK and whose answer had
   * not started {@link OwedAck#DELAY} after the restore. Any thread.
   */
  default long owedAcksSent() {
    return 0;
  }
}
