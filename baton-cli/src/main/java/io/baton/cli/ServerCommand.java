package io.baton.cli;

import io.baton.config.Role;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code baton server --config FILE}: runs a node whose roles include server. */
@Command(
    name = "server",
    mixinStandardHelpOptions = true,
    description = "Run a server agent (and, if its config says so, a dispatcher) until SIGTERM.")
final class ServerCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin NodeOptions node;

  @Override
  public Integer call() throws Exception {
    return NodeRunner.run(node.config, Role.SERVER, spec.commandLine().getOut(), node.threads);
  }
}
