package io.baton.cli;

import io.baton.linux.LinuxProbe;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code baton probe}: checks, without changing anything, that this host can run Baton's data
 * plane, and prints either {@code host ready} or one line per problem with its remedy.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "probe",
    mixinStandardHelpOptions = true,
    description = {
      "Check that this host can run Baton: native access, TCP repair (root or CAP_NET_ADMIN),"
          + " libnftables. Changes nothing.",
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:host ready", "3:host not ready (problems listed)"})
final class ProbeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  private final Supplier<List<String>> problems;

  ProbeCommand() {
    this(LinuxProbe::problems);
  }

  /** For tests: a host with the given problems. */
  ProbeCommand(Supplier<List<String>> problems) {
    this.problems = problems;
  }

  @Override
  public Integer call() {
    List<String> found = problems.get();
    PrintWriter out = spec.commandLine().getOut();
    if (found.isEmpty()) {
      out.println("host ready");
      out.flush();
      return ExitCode.OK;
    }
    out.println("host not ready:");
    found.forEach(problem -> out.println("  - " + problem));
    out.flush();
    return ExitCode.HOST_NOT_READY;
  }
}
