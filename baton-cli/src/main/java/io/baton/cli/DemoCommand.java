package io.baton.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton demo}: builds a small farm in lab network namespaces and moves a live TCP
 * connection from one host to another while a real client talks to it.
 *
 * <p>Not wired yet: it only reports that and fails. The options are already part of the
 * command line so scripts can be written against them.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Build a lab farm in network namespaces and hand a live TCP connection from one host to"
          + " another. Needs root.",
    })
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--keep",
      description = "Keep the lab namespaces after the demo so they can be inspected.")
  boolean keep;

  @Option(
      names = "--check",
      description = "Run without pauses or prompts and exit non-zero unless every step succeeds.")
  boolean check;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("demo: not yet wired");
    spec.commandLine().getErr().flush();
    return ExitCode.FAILURE;
  }
}
