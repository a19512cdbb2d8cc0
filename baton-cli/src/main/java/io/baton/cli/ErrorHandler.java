package io.baton.cli;

import io.baton.linux.LinuxException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The one place that turns a failed command into an exit code and a one-line message on the
 * command's error stream: usage errors become {@value ExitCode#USAGE}, hosts that cannot run Baton
 * {@value ExitCode#HOST_NOT_READY}, everything else {@value ExitCode#FAILURE}.
 *
 * <p>Stack traces are for developers: they are printed only when the environment variable {@value
 * #DEBUG_ENV} is set to {@code 1}.
 *
 * <p>Stateless apart from the debug flag; picocli calls it on the thread that runs the command.
 */
final class ErrorHandler implements IExecutionExceptionHandler, IParameterExceptionHandler {
  static final String DEBUG_ENV = "BATON_DEBUG";

  private static final int EPERM = 1;
  private static final int EACCES = 13;

  private final boolean debug;

  ErrorHandler(boolean debug) {
    this.debug = debug;
  }

  static ErrorHandler fromEnvironment() {
    return new ErrorHandler("1".equals(System.getenv(DEBUG_ENV)));
  }

  @Override
  public int handleParseException(ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    PrintWriter err = cmd.getErr();
    err.println(cmd.getColorScheme().errorText(commandName(cmd) + ": " + e.getMessage()));
    UnmatchedArgumentException.printSuggestions(e, err);
    err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
    err.flush();
    return ExitCode.USAGE;
  }

  @Override
  public int handleExecutionException(Exception e, CommandLine cmd, ParseResult parseResult) {
    PrintWriter err = cmd.getErr();
    int exitCode = exitCodeOf(e);
    err.println(cmd.getColorScheme().errorText(commandName(cmd) + ": " + messageOf(e)));
    if (debug) {
      e.printStackTrace(err);
    } else if (exitCode == ExitCode.FAILURE
        && !(e instanceof LinuxException)
        && !(e instanceof CommandFailure)
        && !(e instanceof java.io.IOException)) {
      err.println("(set " + DEBUG_ENV + "=1 for the stack trace)");
    }
    err.flush();
    return exitCode;
  }

  static int exitCodeOf(Exception e) {
    return switch (e) {
      case HostNotReadyException _ -> ExitCode.HOST_NOT_READY;
      case LinuxException le when le.errno() == EPERM || le.errno() == EACCES ->
          ExitCode.HOST_NOT_READY;
      case IllegalCallerException _ -> ExitCode.HOST_NOT_READY;
      default -> ExitCode.FAILURE;
    };
  }

  static String messageOf(Exception e) {
    return switch (e) {
      case HostNotReadyException h -> h.getMessage();
      case LinuxException le when le.errno() == EPERM || le.errno() == EACCES ->
          le.getMessage() + ": run Baton as root (or with CAP_NET_ADMIN)";
      case LinuxException le -> le.getMessage();
      case CommandFailure c -> c.getMessage();
      case java.io.IOException io when io.getMessage() != null -> io.getMessage();
      case IllegalCallerException _ ->
          "native access is disabled: run java with --enable-native-access=ALL-UNNAMED"
              + " (./baton does)";
      default ->
          e.getMessage() == null
              ? e.getClass().getSimpleName()
              : e.getClass().getSimpleName() + ": " + e.getMessage();
    };
  }

  /** "baton" or "baton probe": who is speaking, as the user typed it. */
  private static String commandName(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName();
  }
}
