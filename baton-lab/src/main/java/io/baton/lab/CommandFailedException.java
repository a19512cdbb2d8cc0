package io.baton.lab;

/** A command exited with a non-zero code; the message names the command, code and stderr. */
public final class CommandFailedException extends LabException {
  private static final long serialVersionUID = 1L;

  private final transient CommandResult result;

  public CommandFailedException(CommandResult result) {
    super(
        "command `"
            + String.join(" ", result.command())
            + "` exited with "
            + result.exitCode()
            + ": "
            + describe(result.stderr()));
    this.result = result;
  }

  /** The failed run, with its full output. */
  public CommandResult result() {
    return result;
  }

  private static String describe(String stderr) {
    String s = stderr.strip();
    return s.isEmpty() ? "(no stderr)" : s;
  }
}
