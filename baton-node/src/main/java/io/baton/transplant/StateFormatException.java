package io.baton.transplant;

/**
 * Serialized connection state that {@link ConnectionStateCodec} refused: malformed, truncated, from
 * an unsupported format version, or describing a connection that cannot be restored.
 *
 * <p>The message names the offending field and says why it was refused, in one line fit for a log
 * or an operator, e.g. {@code receive queue length 70000000 exceeds the 67108864-byte limit}.
 * Immutable.
 */
public final class StateFormatException extends Exception {
  private static final long serialVersionUID = 1L;

  public StateFormatException(String message) {
    super(message);
  }

  public StateFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
