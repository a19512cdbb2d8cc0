package io.baton.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * The {@code bpf(2)} system call: {@code cmd} with its {@code union bpf_attr} in {@code attr}.
 * Stateless and thread-safe.
 */
final class Bpf {
  private static final long SYS_BPF = 321; // x86_64
  // linux/bpf.h, enum bpf_cmd
  static final int MAP_CREATE = 0;
  static final int MAP_LOOKUP_ELEM = 1;
  static final int MAP_UPDATE_ELEM = 2;
  static final int MAP_DELETE_ELEM = 3;
  static final int MAP_GET_NEXT_KEY = 4;
  static final int PROG_LOAD = 5;
  static final int OBJ_PIN = 6;
  static final int OBJ_GET = 7;
  static final int OBJ_GET_INFO_BY_FD = 15;
  static final int LINK_CREATE = 28;

  private Bpf() {}

  /**
   * Calls bpf({@code cmd}, {@code attr}, size of attr); returns the result (a descriptor or 0), or
   * throws with the errno and {@code what} for the message.
   */
  static int call(int cmd, MemorySegment attr, String what) throws LinuxException {
    try {
      var st = Libc.state();
      long r =
          (long)
              Libc.SYSCALL_INT_PTR_INT.invokeExact(st, SYS_BPF, cmd, attr, (int) attr.byteSize());
      if (r < 0) throw new LinuxException(what, Libc.errno(st));
      return (int) r;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(what + " failed unexpectedly", t);
    }
  }

  /**
   * Pins the BPF object {@code fd} (map, program, link) at {@code path} on a bpf file system, so it
   * outlives every descriptor of this process.
   */
  static void pin(int fd, Path path) throws LinuxException {
    pathCall(OBJ_PIN, path, fd, "bpf(BPF_OBJ_PIN " + path + ")");
  }

  /** A new descriptor of the BPF object pinned at {@code path}. */
  static int pinned(Path path) throws LinuxException {
    return pathCall(OBJ_GET, path, 0, "bpf(BPF_OBJ_GET " + path + ")");
  }

  /** BPF_OBJ_PIN and BPF_OBJ_GET: pathname pointer, bpf_fd, file_flags. */
  private static int pathCall(int cmd, Path path, int fd, String what) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment name = arena.allocateFrom(path.toString());
      MemorySegment attr = arena.allocate(32, 8);
      attr.set(ValueLayout.JAVA_LONG, 0, name.address());
      attr.set(ValueLayout.JAVA_INT, 8, fd);
      return call(cmd, attr, what);
    }
  }
}
