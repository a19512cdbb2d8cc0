package io.baton.cli;

import io.baton.config.Role;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code baton dispatcher --config FILE}: runs a node whose roles include dispatcher. */
@Command(
    name = "dispatcher",
    mixinStandardHelpOptions = true,
    description = "Run a dispatcher (and, if its config says so, a server agent) until SIGTERM.")
final class DispatcherCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin NodeOptions node;

  @Option(
      names = "--take-over",
      description =
          "Planned reload: take over from the dispatcher running on this host"
              + " (its listeners and forwarding table) without refusing a connection attempt or resetting a connection;"
              + " it is asked to stop (SIGTERM) and finishes the connections it is reading first.")
  boolean takeOver;

  @Override
  public Integer call() throws Exception {
    return NodeRunner.run(
        node.config, Role.DISPATCHER, spec.commandLine().getOut(), node.threads, takeOver);
  }
}
