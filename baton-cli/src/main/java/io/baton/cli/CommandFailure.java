package io.baton.cli;

/**
 * A command failed for a reason its message fully explains to a person (a bad config line, a port
 * in use); printed as one line, without exception names or stack-trace hints. Exit code {@value
 * ExitCode#FAILURE}.
 */
public class CommandFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CommandFailure(String message, Throwable cause) {
    super(message, cause);
  }
}
