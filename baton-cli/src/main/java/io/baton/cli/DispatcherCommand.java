package io.baton.cli;

import io.baton.config.Role;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code baton dispatcher --config FILE}: runs a node whose roles include dispatcher. */
@Command(
    name = "dispatcher",
    mixinStandardHelpOptions = true,
    description = "Run a dispatcher (and, if its config says so, a server agent) until SIGTERM.")
final class DispatcherCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin NodeOptions node;

  @Override
  public Integer call() throws Exception {
    return NodeRunner.run(node.config, Role.DISPATCHER, spec.commandLine().getOut(), node.threads);
  }
}
