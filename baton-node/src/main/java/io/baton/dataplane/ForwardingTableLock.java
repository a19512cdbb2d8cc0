package io.baton.dataplane;

import io.baton.linux.Errno;
import io.baton.linux.ExclusiveFileLock;
import io.baton.linux.LinuxException;
import io.baton.linux.NetnsIdentity;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Keeps two dispatcher processes of one network namespace from fighting over one forwarding table:
 * an exclusive flock on {@code /run/baton/<table>-net-<netns inode>.lock}. The name carries the
 * namespace's identity because namespaces (the lab's, containers') often share one /run. The kernel
 * releases the lock when its holder dies, so a {@code kill -9} never leaves it stale.
 *
 * <p>Acquire it on a thread in the dispatcher's namespace; close it from any thread.
 */
public final class ForwardingTableLock implements AutoCloseable {
  /** Where the lock files live. */
  public static final Path DIRECTORY = Path.of("/run/baton");

  private final ExclusiveFileLock lock;

  private ForwardingTableLock(ExclusiveFileLock lock) {
    this.lock = lock;
  }

  /** The lock file of {@code table} in the calling thread's network namespace. */
  public static Path pathOf(String table) throws LinuxException {
    return DIRECTORY.resolve(
        table + "-net-" + Long.toUnsignedString(NetnsIdentity.current()) + ".lock");
  }

  /**
   * Takes the lock of {@code table} for this namespace, or fails with one line that names the lock
   * file and the process holding it.
   */
  public static ForwardingTableLock acquire(String table) throws LinuxException {
    Path path = pathOf(table);
    try {
      return new ForwardingTableLock(ExclusiveFileLock.tryLock(path));
    } catch (LinuxException e) {
      if (e.errno() != Errno.EAGAIN) throw e;
      OptionalLong pid = ExclusiveFileLock.holderPid(path);
      String holder = pid.isPresent() ? "pid " + pid.getAsLong() : "another process";
      throw new LinuxException(
          "flock(" + path + ")",
          "forwarding table "
              + table
              + " of this network namespace is held by "
              + holder
              + " (another dispatcher?); stop it first");
    }
  }

  /**
   * The process that holds the lock of {@code table} in this network namespace now, if any (a
   * dispatcher that a new one takes over from).
   */
  public static java.util.OptionalLong holder(String table) throws LinuxException {
    Path path = pathOf(table);
    if (!java.nio.file.Files.exists(path)) return java.util.OptionalLong.empty();
    return ExclusiveFileLock.holderPid(path);
  }

  public Path path() {
    return lock.path();
  }

  @Override
  public void close() throws LinuxException {
    lock.close();
  }
}
