package io.baton.lab;

import java.util.List;

/**
 * What a finished command left behind: its argument list, exit code and both output streams
 * (decoded as UTF-8). Immutable.
 */
public record CommandResult(List<String> command, int exitCode, String stdout, String stderr) {
  public CommandResult {
    command = List.copyOf(command);
  }

  public boolean succeeded() {
    return exitCode == 0;
  }

  /** This result, or a {@link CommandFailedException} naming command, exit code and stderr. */
  public CommandResult orThrow() {
    if (!succeeded()) throw new CommandFailedException(this);
    return this;
  }
}
