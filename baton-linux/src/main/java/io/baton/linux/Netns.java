package io.baton.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Network namespaces. A network namespace belongs to a thread, not a process: after {@link
 * #enter(Path)} every socket the calling thread creates lives in that namespace, while the JVM's
 * other threads stay where they were. Sockets keep their namespace for life.
 *
 * <p>Stateless and thread-safe; affects only the calling thread.
 */
public final class Netns {
  // sched.h
  private static final int CLONE_NEWNET = 0x40000000;
  // fcntl.h
  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 0x80000;

  private Netns() {}

  /** Where {@code ip netns add NAME} pins a namespace. */
  public static Path pathOf(String name) {
    return Path.of("/run/netns", name);
  }

  /** Moves the calling thread into the namespace pinned at {@code path}. */
  public static void enter(Path path) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocateFrom(path.toString());
      var st = Libc.state();
      int fd = (int) Libc.OPEN.invokeExact(st, p, O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw new LinuxException("open(" + path + ")", Libc.errno(st));
      try {
        int r = (int) Libc.SETNS.invokeExact(st, fd, CLONE_NEWNET);
        if (r < 0) throw new LinuxException("setns(" + path + ", CLONE_NEWNET)", Libc.errno(st));
      } finally {
        Sockets.closeQuietly(fd);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("setns", t);
    }
  }

  /**
   * Moves the calling thread, and only it, into a new network namespace of its own ({@code
   * unshare(CLONE_NEWNET)}). The namespace has nothing but {@code lo}, which is down; it is not
   * pinned anywhere and goes away with the thread and the sockets made in it.
   */
  public static void unshareNet() throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.UNSHARE.invokeExact(st, CLONE_NEWNET);
      if (r < 0) throw new LinuxException("unshare(CLONE_NEWNET)", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("unshare", t);
    }
  }

  /** The calling thread's network namespace, as /proc/thread-self/ns/net names it. */
  public static String current() {
    try {
      return java.nio.file.Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}
