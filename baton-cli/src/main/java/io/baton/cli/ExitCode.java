package io.baton.cli;

/**
 * The exit codes of every {@code baton} command, listed in the usage footer of {@code baton
 * --help}. Scripts may rely on them.
 */
public final class ExitCode {
  /** The command did what it was asked. */
  public static final int OK = 0;

  /** The command ran and failed: a step of the demo, a benchmark target, a system call. */
  public static final int FAILURE = 1;

  /** The command line was wrong: unknown command or option, missing or malformed value. */
  public static final int USAGE = 2;

  /** This host cannot run Baton as it is: not root, no TCP repair, no libnftables, no JDK 25. */
  public static final int HOST_NOT_READY = 3;

  private ExitCode() {}
}
