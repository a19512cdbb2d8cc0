package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code baton config}: works with node config files without starting anything. Its one verb,
 * {@code check FILE}, reads and fully checks a config (syntax, keys, types, ranges,
 * cross-references, the cluster key file) exactly as {@code baton dispatcher|server --config} would
 * at start.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    description = {"Work with node config files (see config/examples/)."},
    subcommands = {ConfigCommand.Check.class})
final class ConfigCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  /** {@code baton config} alone names no verb: a usage error. */
  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "missing command (check)");
  }

  /**
   * {@code baton config check FILE}: prints {@code FILE: ok (node d1: dispatcher; 1 VIP, 3 pools, 5
   * members)}, or the loader's one-line error on stderr and exit code 1. A config error is the
   * user's to fix, not a crash: it is reported here, without the generic handler's exception name
   * or stack-trace hint.
   */
  @Command(
      name = "check",
      mixinStandardHelpOptions = true,
      description = {
        "Check a node config file without starting anything; print a summary, or the first"
            + " problem as FILE:LINE:COLUMN: FIELD: reason.",
      },
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {
        "0:the config is valid",
        "1:the config is invalid or unreadable (one line on stderr)",
        "2:usage error",
      })
  static final class Check implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "The node's YAML config file.")
    Path file;

    @Override
    public Integer call() {
      BatonConfig config;
      try {
        config = ConfigLoader.load(file);
      } catch (ConfigException e) {
        PrintWriter err = spec.commandLine().getErr();
        err.println(spec.commandLine().getColorScheme().errorText(e.getMessage()));
        err.flush();
        return ExitCode.FAILURE;
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println(file + ": ok (" + config.summary() + ")");
      out.flush();
      return ExitCode.OK;
    }
  }
}
