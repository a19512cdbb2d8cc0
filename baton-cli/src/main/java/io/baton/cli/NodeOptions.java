package io.baton.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every node-starting verb shares ({@code dispatcher}, {@code server}); a picocli
 * mixin.
 */
final class NodeOptions {
  @Option(
      names = {"-c", "--config"},
      required = true,
      paramLabel = "FILE",
      description = "Node config (YAML).")
  Path config;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "Event loop threads (0: one per core).")
  int threads;
}
