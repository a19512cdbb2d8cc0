package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** flock(2) locks: exclusive between open files of one process and between processes. */
class ExclusiveFileLockTest {
  @TempDir Path dir;

  @Test
  void aSecondLockIsRefusedUntilTheFirstIsReleasedAndNamesItsHolder() throws Exception {
    Path path = dir.resolve("sub/table.lock");
    ExclusiveFileLock first = ExclusiveFileLock.tryLock(path);
    try {
      assertThat(Files.readString(path)).isEqualTo(ProcessHandle.current().pid() + "\n");
      // Unlike an fcntl lock, a flock excludes another open file of the same process.
      assertThatThrownBy(() -> ExclusiveFileLock.tryLock(path))
          .isInstanceOfSatisfying(
              LinuxException.class,
              e -> {
                assertThat(e.errno()).isEqualTo(Errno.EAGAIN);
                assertThat(e.call()).isEqualTo("flock(" + path + ", LOCK_EX)");
              });
      assertThat(ExclusiveFileLock.holderPid(path)).hasValue(ProcessHandle.current().pid());
    } finally {
      first.close();
    }
    first.close(); // twice is fine
    try (ExclusiveFileLock again = ExclusiveFileLock.tryLock(path)) {
      assertThat(again.path()).isEqualTo(path);
    }
  }

  @Test
  void aLockHeldByAnotherProcessIsRefusedAndGoesWithThatProcess() throws Exception {
    Path path = dir.resolve("other.lock");
    Files.writeString(path, "");
    // util-linux flock(1) holds the lock while its child runs (-o: the child does not inherit
    // the locked descriptor); it writes no pid.
    Process holder =
        new ProcessBuilder(List.of("flock", "-x", "-o", path.toString(), "sleep", "60")).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (true) { // until the other process holds it
        try (ExclusiveFileLock probe = ExclusiveFileLock.tryLock(path)) {
          assertThat(probe.path()).isEqualTo(path);
          assertThat(System.nanoTime()).as("flock(1) took the lock").isLessThan(deadline);
        } catch (LinuxException e) {
          assertThat(e.errno()).isEqualTo(Errno.EAGAIN);
          break;
        }
        Thread.sleep(20); // polling interval of a deadline-bounded wait
      }
      // flock(1) wrote no pid into the file, but /proc/locks knows who holds the lock.
      assertThat(ExclusiveFileLock.holderPid(path)).hasValue(holder.pid());
    } finally {
      holder.descendants().forEach(ProcessHandle::destroyForcibly);
      holder.destroyForcibly();
      holder.waitFor(10, TimeUnit.SECONDS);
    }
    // The kernel released the dead holder's lock.
    try (ExclusiveFileLock mine = ExclusiveFileLock.tryLock(path)) {
      assertThat(mine.path()).isEqualTo(path);
      assertThat(ExclusiveFileLock.holderPid(path)).hasValue(ProcessHandle.current().pid());
    }
  }
}
