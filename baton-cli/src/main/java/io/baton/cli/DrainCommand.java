package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton drain --config FILE [--off]}: the node of that config takes no new connections (its
 * established ones stay), or takes them again with {@code --off}. Run on the node's host; it works
 * through the node's load reports, so the node needs the sync section.
 */
@Command(
    name = "drain",
    mixinStandardHelpOptions = true,
    description = {
      "Stop sending new connections to this node (its established connections stay), or"
          + " resume with --off. Needs the node's sync section: the dispatchers hear of it in its load reports."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:done",
      "1:the config is invalid, or the node has no sync section",
      "2:usage error"
    })
final class DrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "The node's YAML config file.")
  Path config;

  @Option(names = "--off", description = "Take new connections again.")
  boolean off;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    BatonConfig c;
    try {
      c = ConfigLoader.load(config);
    } catch (ConfigException e) {
      err.println(e.getMessage());
      err.flush();
      return ExitCode.FAILURE;
    }
    String node = c.node().name();
    if (c.sync().isEmpty()) {
      err.println(
          config
              + ": node "
              + node
              + " has no sync section, so no dispatcher would hear of a drain;"
              + " set its weight to 0 in the dispatchers' pools instead");
      err.flush();
      return ExitCode.FAILURE;
    }
    DrainFlag flag = DrainFlag.of(node);
    if (off) {
      flag.clear();
      out.println(
          "node "
              + node
              + " takes new connections again (from its next load report, within "
              + c.sync().get().reportInterval().toMillis()
              + " ms)");
    } else {
      flag.set();
      out.println(
          "node "
              + node
              + " is draining: no new connections from its next load report (within "
              + c.sync().get().reportInterval().toMillis()
              + " ms); its established connections stay. Undo: baton drain"
              + " --config "
              + config
              + " --off");
    }
    out.flush();
    return ExitCode.OK;
  }
}
