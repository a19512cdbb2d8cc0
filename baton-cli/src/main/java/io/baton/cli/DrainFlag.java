package io.baton.cli;

import io.baton.linux.LinuxException;
import io.baton.linux.NetnsIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An operator's request that a node take no new connections: a file, {@code
 * /run/baton/drain-<node>-net-<netns inode>}, that {@code baton drain} creates and {@code baton
 * drain --off} removes, and that the running node reads before each load report (its reports then
 * say "draining", and dispatchers pass it over; its connections stay). A file, not a message to the
 * process, so a drained node stays drained across a restart.
 */
final class DrainFlag {
  static final Path DIRECTORY = Path.of("/run/baton");
  private final Path file;

  private DrainFlag(Path file) {
    this.file = file;
  }

  /** The flag of {@code node} in this network namespace. */
  static DrainFlag of(String node) throws IOException {
    try {
      return new DrainFlag(
          DIRECTORY.resolve(
              "drain-" + node + "-net-" + Long.toUnsignedString(NetnsIdentity.current())));
    } catch (LinuxException e) {
      throw new IOException("cannot identify this network namespace: " + e.getMessage(), e);
    }
  }

  boolean isSet() {
    return Files.exists(file);
  }

  void set() throws IOException {
    Files.createDirectories(DIRECTORY);
    if (!Files.exists(file)) Files.createFile(file);
  }

  void clear() throws IOException {
    Files.deleteIfExists(file);
  }

  Path file() {
    return file;
  }
}
