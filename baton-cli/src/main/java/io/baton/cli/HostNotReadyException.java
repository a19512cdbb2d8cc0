package io.baton.cli;

/**
 * Thrown by a command that finds the host unable to run it (missing privilege, kernel feature or
 * library). {@link ErrorHandler} turns it into exit code {@value ExitCode#HOST_NOT_READY}; its
 * message should say what to do about it.
 */
public final class HostNotReadyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public HostNotReadyException(String message) {
    super(message);
  }

  public HostNotReadyException(String message, Throwable cause) {
    super(message, cause);
  }
}
