package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * An exclusive {@code flock(2)} on a lock file, held until {@link #close} or the death of the
 * process: the kernel drops a flock with the last descriptor of its open file, so a crashed holder
 * never leaves a stale lock. Unlike {@code fcntl} record locks (what {@link
 * java.nio.channels.FileChannel#tryLock} takes) a flock belongs to the open file, not to the
 * process, so two locks of one JVM exclude each other too, and closing some other descriptor of the
 * file does not release it. Whoever is refused can say who holds it: /proc/locks names the holder's
 * pid; the holder also writes it into the file, as pid files do.
 *
 * <p>Thread-safe; {@link #close} is idempotent.
 */
public final class ExclusiveFileLock implements AutoCloseable {
  // sys/file.h
  private static final int LOCK_EX = 2;
  private static final int LOCK_NB = 4;
  // fcntl.h
  private static final int O_RDWR = 2;
  private static final int O_CLOEXEC = 0x80000;
  private static final MethodHandle FLOCK = flockHandle();

  private final Path path;
  private int fd;

  private ExclusiveFileLock(Path path, int fd) {
    this.path = path;
    this.fd = fd;
  }

  /**
   * Takes the lock on {@code path} (creating the file and its directory if needed) without waiting.
   * Fails with {@code EWOULDBLOCK} ({@link Errno#EAGAIN}) when another open file holds it; {@link
   * #holderPid} then tells which process.
   */
  public static ExclusiveFileLock tryLock(Path path) throws LinuxException {
    try {
      if (path.getParent() != null) Files.createDirectories(path.getParent());
      if (!Files.exists(path)) {
        try {
          Files.createFile(path);
        } catch (java.nio.file.FileAlreadyExistsException raced) {
          // Another process made it first; it is the same file either way.
        }
      }
    } catch (IOException e) {
      throw new LinuxException("create(" + path + ")", e.toString());
    }
    int fd;
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      fd = (int) Libc.OPEN.invokeExact(st, arena.allocateFrom(path.toString()), O_RDWR | O_CLOEXEC);
      if (fd < 0) throw new LinuxException("open(" + path + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("open", t);
    }
    try {
      var st = Libc.state();
      int r = (int) FLOCK.invokeExact(st, fd, LOCK_EX | LOCK_NB);
      if (r < 0) throw new LinuxException("flock(" + path + ", LOCK_EX)", Libc.errno(st));
    } catch (Throwable t) {
      Sockets.closeQuietly(fd);
      if (t instanceof LinuxException e) throw e;
      throw Sockets.unexpected("flock", t);
    }
    try {
      // Through another descriptor: closing it does not release a flock (it would an fcntl lock).
      Files.writeString(path, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
    } catch (IOException e) {
      Sockets.closeQuietly(fd);
      throw new LinuxException("write(" + path + ")", e.toString());
    }
    return new ExclusiveFileLock(path, fd);
  }

  /**
   * The process holding a flock on {@code path}: as /proc/locks lists it (right whoever took the
   * lock, e.g. flock(1)), else the pid the holder wrote into the file.
   */
  public static OptionalLong holderPid(Path path) {
    try {
      long inode = ((Number) Files.getAttribute(path, "unix:ino")).longValue();
      long dev = ((Number) Files.getAttribute(path, "unix:dev")).longValue();
      // /proc/locks names a file as MAJOR:MINOR:INODE, the device numbers in hex (fs/locks.c).
      long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
      long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
      String file = String.format("%02x:%02x:%d", major, minor, inode);
      for (String line : Files.readAllLines(Path.of("/proc/locks"), StandardCharsets.US_ASCII)) {
        // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; blocked waiters start with "->".
        String[] f = line.trim().split("\\s+");
        if (f.length >= 6
            && f[1].equals("FLOCK")
            && f[5].equals(file)
            && f[4].matches("[0-9]{1,10}")) {
          return OptionalLong.of(Long.parseLong(f[4]));
        }
      }
      String text = Files.readString(path, StandardCharsets.US_ASCII).strip();
      return text.matches("[0-9]{1,10}")
          ? OptionalLong.of(Long.parseLong(text))
          : OptionalLong.empty();
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  public Path path() {
    return path;
  }

  /** Releases the lock (by closing its descriptor); the file stays for the next holder. */
  @Override
  public synchronized void close() throws LinuxException {
    if (fd < 0) return;
    int f = fd;
    fd = -1;
    Sockets.close(f);
  }

  @SuppressWarnings("restricted")
  private static MethodHandle flockHandle() {
    Linker linker = Linker.nativeLinker();
    MemorySegment symbol =
        linker
            .defaultLookup()
            .find("flock")
            .orElseThrow(() -> new IllegalStateException("libc symbol not found: flock"));
    return linker.downcallHandle(
        symbol,
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
        Linker.Option.captureCallState("errno"));
  }
}
