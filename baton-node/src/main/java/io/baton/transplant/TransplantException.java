package io.baton.transplant;

/**
 * A connection cannot be moved, for a reason found before anything was changed (e.g. it is
 * half-closed) or while exporting or restoring it (e.g. a kernel call failed). The message says
 * which connection and why. When thrown by {@link ConnectionExporter} the socket is back in normal
 * operation and still owned by the caller.
 */
public final class TransplantException extends Exception {
  private static final long serialVersionUID = 1L;

  public TransplantException(String message) {
    super(message);
  }

  public TransplantException(String message, Throwable cause) {
    super(message, cause);
  }
}
