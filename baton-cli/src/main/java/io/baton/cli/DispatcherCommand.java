package io.baton.cli;

import io.baton.config.Role;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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

  @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "Node config (YAML).")
  Path config;

  @Option(names = "--threads", defaultValue = "0", description = "Event loop threads (0: one per core).")
  int threads;

  @Override
  public Integer call() throws Exception {
    return NodeRunner.run(config, Role.DISPATCHER, spec.commandLine().getOut(), threads);
  }
}
