package io.baton.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code baton} command: entry point of the runnable jar, one subcommand class per verb.
 *
 * <p>Commands write through {@code spec.commandLine().getOut()/getErr()} so tests can capture them;
 * failures travel as exceptions to {@link ErrorHandler}, which owns the exit codes listed in {@link
 * ExitCode}.
 *
 * <p>Confined to the main thread.
 */
@Command(
    name = "baton",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Server-farm load balancer for Linux that routes on the request and moves the live TCP"
          + " connection to the chosen server, which answers the client directly.",
    },
    subcommands = {
      DispatcherCommand.class,
      ServerCommand.class,
      GatewayCommand.class,
      RegisterCommand.class,
      DrainCommand.class,
      CtlCommand.class,
      ConfigCommand.class,
      ProbeCommand.class,
      DemoCommand.class,
      CommandLine.HelpCommand.class,
      io.baton.cli.bench.BenchCommand.class,
      AppCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:ok",
      "1:failure",
      "2:usage error (unknown command or option, bad value)",
      "3:host not ready (not root, no TCP repair, no libnftables, no JDK 25)",
    },
    footer = {"%nRun 'baton COMMAND --help' for a command's options. Design: docs/design.md"})
public final class Baton implements Callable<Integer> {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    String formatProblem = logFormatProblem(System.getenv("BATON_LOG_FORMAT"));
    if (formatProblem != null) {
      // Checked before the first log line: logback would otherwise log nothing at all.
      System.err.println("baton: " + formatProblem);
      System.exit(ExitCode.USAGE);
    }
    String flowMapProblem =
        io.baton.dispatcher.DispatcherNode.flowMapProblem(
            System.getenv(io.baton.dispatcher.DispatcherNode.FLOW_MAP_VARIABLE));
    if (flowMapProblem != null) {
      // Before anything is done: a --take-over would otherwise stop the running dispatcher first.
      System.err.println("baton: " + flowMapProblem);
      System.exit(ExitCode.USAGE);
    }
    quietNettyLeakDetection();
    System.exit(newCommandLine().execute(args));
  }

  /** Why {@code BATON_LOG_FORMAT} is not usable, or null: unset, {@code text} or {@code json}. */
  static String logFormatProblem(String format) {
    if (format == null || format.isEmpty() || format.equals("text") || format.equals("json"))
      return null;
    return "BATON_LOG_FORMAT must be text or json, got '" + format + "'";
  }

  /**
   * Netty samples one buffer in 128 for leak tracking by default and records a stack trace for
   * each: ~1% of the dispatcher's CPU per handoff (perf, issue 8). Baton's buffers are released by
   * its handlers, tested; an operator who suspects a leak sets {@code
   * -Dio.netty.leakDetection.level=simple} (or paranoid) in BATON_JAVA_OPTIONS.
   */
  static void quietNettyLeakDetection() {
    if (System.getProperty("io.netty.leakDetection.level") == null) {
      System.setProperty("io.netty.leakDetection.level", "disabled");
    }
  }

  /** The command line with Baton's error handling; tests capture its out and err writers. */
  public static CommandLine newCommandLine() {
    ErrorHandler errors = ErrorHandler.fromEnvironment();
    return new CommandLine(new Baton())
        .setExecutionExceptionHandler(errors)
        .setParameterExceptionHandler(errors);
  }

  /** Runs when no command was given: that is a usage error. */
  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "missing command (probe, demo, help)");
  }
}
