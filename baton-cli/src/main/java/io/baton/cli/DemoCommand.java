package io.baton.cli;

import io.baton.cli.demo.TransplantDemo;
import io.baton.linux.LinuxProbe;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton demo}: builds a small farm in lab network namespaces and moves live TCP
 * connections from the host that accepted them to a server that answers the client directly,
 * checking every byte. With {@code --handoffs 1000} it doubles as the export/restore benchmark.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Build a lab in network namespaces (client, a, b) and hand live TCP connections from a to b:"
          + " a stream moved mid-flight, a curl download served by b after the move, and many"
          + " short handoffs with export/restore timings. Needs root.",
    })
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--keep",
      description = "After the checks, keep the lab up and serve curl requests through handoffs until Ctrl-C.")
  boolean keep;

  @Option(
      names = "--check",
      description = "Verify only: never serve after the checks (overrides --keep). The exit code is non-zero on any failure either way.")
  boolean check;

  @Option(
      names = "--handoffs",
      defaultValue = "1000",
      description = "Short connections to hand off in act 3 (default: ${DEFAULT-VALUE}).")
  int handoffs;

  @Override
  public Integer call() throws Exception {
    if (handoffs < 1 || handoffs > 100_000) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--handoffs must be 1..100000, got " + handoffs);
    }
    List<String> problems = LinuxProbe.problems();
    if (!problems.isEmpty()) {
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    }
    boolean passed = new TransplantDemo(spec.commandLine().getOut(), handoffs).run(keep && !check);
    return passed ? ExitCode.OK : ExitCode.FAILURE;
  }
}
