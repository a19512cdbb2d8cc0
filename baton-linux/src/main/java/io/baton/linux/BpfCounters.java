package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A BPF array map of {@code size} 64-bit counters, shared by all CPUs, that a program adds to with
 * atomic adds and this process reads. Not thread-safe (one scratch buffer).
 */
final class BpfCounters implements AutoCloseable {
  private static final int BPF_MAP_TYPE_ARRAY = 2;

  private final Arena arena = Arena.ofShared();
  private final int fd;
  private final int size;
  private final MemorySegment key = arena.allocate(8, 8);
  private final MemorySegment value = arena.allocate(8, 8);
  private final MemorySegment attr = arena.allocate(128, 8);
  private boolean closed;

  private BpfCounters(int fd, int size) {
    this.fd = fd;
    this.size = size;
    attr.set(JAVA_INT, 0, fd);
    attr.set(JAVA_LONG, 8, key.address());
    attr.set(JAVA_LONG, 16, value.address());
  }

  /** A new array of {@code size} counters, all zero. */
  static BpfCounters create(int size) throws LinuxException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment create = a.allocate(128, 8);
      create.set(JAVA_INT, 0, BPF_MAP_TYPE_ARRAY);
      create.set(JAVA_INT, 4, 4);
      create.set(JAVA_INT, 8, 8);
      create.set(JAVA_INT, 12, size);
      return new BpfCounters(
          Bpf.call(Bpf.MAP_CREATE, create, "bpf(BPF_MAP_CREATE counters)"), size);
    }
  }

  /** Pins the array at {@code path} on a bpf file system. */
  void pin(java.nio.file.Path path) throws LinuxException {
    Bpf.pin(fd, path);
  }

  /**
   * The array pinned at {@code path}; fails with a clear message unless it is an array of {@code
   * size} 8-byte counters.
   */
  static BpfCounters openPinned(java.nio.file.Path path, int size) throws LinuxException {
    int fd = Bpf.pinned(path);
    try (Arena a = Arena.ofConfined()) {
      // BPF_OBJ_GET_INFO_BY_FD; struct bpf_map_info: type, id, key_size, value_size, max_entries
      MemorySegment info = a.allocate(80, 8);
      MemorySegment attr = a.allocate(128, 8);
      attr.set(JAVA_INT, 0, fd);
      attr.set(JAVA_INT, 4, (int) info.byteSize());
      attr.set(JAVA_LONG, 8, info.address());
      Bpf.call(Bpf.OBJ_GET_INFO_BY_FD, attr, "bpf(BPF_OBJ_GET_INFO_BY_FD " + path + ")");
      if (info.get(JAVA_INT, 0) != BPF_MAP_TYPE_ARRAY
          || info.get(JAVA_INT, 8) != 4
          || info.get(JAVA_INT, 12) != 8
          || info.get(JAVA_INT, 16) != size) {
        throw new LinuxException(
            "bpf(BPF_OBJ_GET " + path + ")",
            "the pinned map is not an array of "
                + size
                + " counters (type "
                + info.get(JAVA_INT, 0)
                + ", "
                + info.get(JAVA_INT, 16)
                + " entries of "
                + info.get(JAVA_INT, 12)
                + " bytes)");
      }
      return new BpfCounters(fd, size);
    } catch (LinuxException | RuntimeException e) {
      Sockets.closeQuietly(fd);
      throw e;
    }
  }

  /** Counter {@code index}'s value now. */
  long get(int index) throws LinuxException {
    if (closed) throw new IllegalStateException("counters closed");
    if (index < 0 || index >= size) throw new IndexOutOfBoundsException(index);
    key.set(JAVA_INT, 0, index);
    Bpf.call(Bpf.MAP_LOOKUP_ELEM, attr, "bpf(BPF_MAP_LOOKUP_ELEM counter " + index + ")");
    return value.get(JAVA_LONG, 0);
  }

  int fd() {
    return fd;
  }

  /**
   * Emits {@code counter[index] += 1} into {@code a}: the slot's address by a map lookup (the key
   * at {@code fp-24}), then an atomic add. Uses r0 to r5.
   */
  static void emitIncrement(BpfAsm a, int mapFd, int index) {
    String skip = a.newLabel("count");
    a.stImm(4, BpfAsm.R10, -24, index);
    a.ldMapFd(BpfAsm.R1, mapFd);
    a.movReg(BpfAsm.R2, BpfAsm.R10);
    a.addImm(BpfAsm.R2, -24);
    a.call(1); // bpf_map_lookup_elem
    a.jeqImm(BpfAsm.R0, 0, skip);
    a.movImm(BpfAsm.R1, 1);
    a.atomicAdd64(BpfAsm.R0, 0, BpfAsm.R1);
    a.label(skip);
  }

  @Override
  public void close() throws LinuxException {
    if (closed) return;
    closed = true;
    try {
      Sockets.close(fd);
    } finally {
      arena.close();
    }
  }
}
