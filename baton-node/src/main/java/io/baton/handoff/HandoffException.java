package io.baton.handoff;

/**
 * A handoff that got no answer from the server: the server was not connected, did not answer within
 * the timeout, or the connection was lost or closed first. The message names the server and the
 * handoff, e.g. {@code server 198.18.1.2:7400 did not answer handoff 17 within 2000 ms}.
 *
 * <p>Until a server answers ACCEPTED the dispatcher still owns the connection, so this exception
 * means "take the connection back (or try another server)". Also thrown when a {@link
 * HandoffServer} cannot start. Immutable.
 */
public final class HandoffException extends Exception {
  private static final long serialVersionUID = 1L;
  private final boolean maybeDelivered;

  public HandoffException(String message) {
    this(message, null, false);
  }

  public HandoffException(String message, Throwable cause) {
    this(message, cause, false);
  }

  public HandoffException(String message, Throwable cause, boolean maybeDelivered) {
    super(message, cause);
    this.maybeDelivered = maybeDelivered;
  }

  /**
   * Whether the server may have received the message: true after a timeout or a connection lost
   * after the frame was written, false when it was never (completely) written. A handoff that may
   * have been delivered may be owned by the server: the dispatcher must not simply take it back.
   */
  public boolean maybeDelivered() {
    return maybeDelivered;
  }
}
