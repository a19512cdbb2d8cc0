package io.baton.handoff;

/**
 * A fabric frame or message payload that does not follow the wire format: bad magic, unknown
 * version or type, a length outside its limits, a truncated field, a string that is not valid
 * UTF-8, trailing bytes. The message names the field and says why, in one line fit for a log.
 *
 * <p>Checked on purpose: everything on the fabric comes from another host, and every decoding path
 * must decide what a malformed frame means (the endpoints close the connection and count it).
 * Immutable.
 */
public final class FrameFormatException extends Exception {
  private static final long serialVersionUID = 1L;

  public FrameFormatException(String message) {
    super(message);
  }
}
