package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A BPF hash map ({@code BPF_MAP_TYPE_HASH}) of fixed-size keys and values, made and changed with
 * {@code bpf(2)}: one system call per change, about a microsecond (JMH {@code
 * BpfHashMapBenchmark}), where an nf_tables set element change is a netlink transaction of its own.
 * The building block of a forwarding table that a tc program reads per packet.
 *
 * <p>Not thread-safe: one scratch buffer per map; confine it to a thread or guard it.
 */
public final class BpfHashMap implements AutoCloseable {
  private static final int BPF_MAP_TYPE_HASH = 1;

  /** Room for any bpf_attr this class writes; the kernel wants the unused rest zero. */
  private static final int ATTR_BYTES = 128;

  private final Arena arena = Arena.ofShared();
  private final int fd;
  private final int keySize;
  private final int valueSize;
  private final MemorySegment key;
  private final MemorySegment value;
  private final MemorySegment elemAttr;
  private final MemorySegment deleteAttr;
  private boolean closed;

  private BpfHashMap(int fd, int keySize, int valueSize) {
    this.fd = fd;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.key = arena.allocate(keySize, 8);
    this.value = arena.allocate(valueSize, 8);
    // BPF_MAP_*_ELEM: map_fd, pad, key pointer, value pointer, flags (0: BPF_ANY for an update,
    // none for a lookup). Delete must carry no value.
    this.elemAttr = arena.allocate(ATTR_BYTES, 8);
    elemAttr.set(JAVA_INT, 0, fd);
    elemAttr.set(JAVA_LONG, 8, key.address());
    elemAttr.set(JAVA_LONG, 16, value.address());
    this.deleteAttr = arena.allocate(ATTR_BYTES, 8);
    deleteAttr.set(JAVA_INT, 0, fd);
    deleteAttr.set(JAVA_LONG, 8, key.address());
  }

  /** BPF_MAP_CREATE flag: elements allocated as they are added. */
  private static final int BPF_F_NO_PREALLOC = 1;

  /**
   * A new hash map of {@code maxEntries} elements, preallocated by the kernel (updates then
   * allocate nothing: ~0.9 µs against ~1.2 µs without preallocation, measured here).
   */
  public static BpfHashMap create(int keySize, int valueSize, int maxEntries)
      throws LinuxException {
    return create(keySize, valueSize, maxEntries, true);
  }

  /**
   * As {@link #create(int, int, int)}; without {@code preallocate} ({@code BPF_F_NO_PREALLOC}) the
   * kernel allocates each element when it is added, so a map sized for a million entries costs
   * memory only for those it holds (a preallocated one reserves all of them at creation).
   */
  public static BpfHashMap create(int keySize, int valueSize, int maxEntries, boolean preallocate)
      throws LinuxException {
    if (keySize < 1 || valueSize < 1 || maxEntries < 1) {
      throw new IllegalArgumentException(
          "key, value and map sizes must be positive: "
              + keySize
              + ", "
              + valueSize
              + ", "
              + maxEntries);
    }
    try (Arena a = Arena.ofConfined()) {
      // BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags
      MemorySegment attr = a.allocate(ATTR_BYTES, 8);
      attr.set(JAVA_INT, 0, BPF_MAP_TYPE_HASH);
      attr.set(JAVA_INT, 4, keySize);
      attr.set(JAVA_INT, 8, valueSize);
      attr.set(JAVA_INT, 12, maxEntries);
      attr.set(JAVA_INT, 16, preallocate ? 0 : BPF_F_NO_PREALLOC);
      return new BpfHashMap(
          Bpf.call(Bpf.MAP_CREATE, attr, "bpf(BPF_MAP_CREATE)"), keySize, valueSize);
    }
  }

  /** Sets {@code key} to {@code value}, adding it or replacing its value. */
  public void put(byte[] k, byte[] v) throws LinuxException {
    loadKey(k);
    checkSize(v, valueSize, "value");
    MemorySegment.copy(v, 0, value, JAVA_BYTE, 0, valueSize);
    Bpf.call(Bpf.MAP_UPDATE_ELEM, elemAttr, "bpf(BPF_MAP_UPDATE_ELEM)");
  }

  /** Removes {@code key}; returns false if it was not there. */
  public boolean remove(byte[] k) throws LinuxException {
    loadKey(k);
    try {
      Bpf.call(Bpf.MAP_DELETE_ELEM, deleteAttr, "bpf(BPF_MAP_DELETE_ELEM)");
      return true;
    } catch (LinuxException e) {
      if (e.errno() == Errno.ENOENT) return false;
      throw e;
    }
  }

  /** The value of {@code key}, if it is there. */
  public Optional<byte[]> get(byte[] k) throws LinuxException {
    loadKey(k);
    try {
      Bpf.call(Bpf.MAP_LOOKUP_ELEM, elemAttr, "bpf(BPF_MAP_LOOKUP_ELEM)");
    } catch (LinuxException e) {
      if (e.errno() == Errno.ENOENT) return Optional.empty();
      throw e;
    }
    byte[] out = new byte[valueSize];
    MemorySegment.copy(value, JAVA_BYTE, 0, out, 0, valueSize);
    return Optional.of(out);
  }

  /**
   * Pins the map at {@code path} (on a bpf file system): it then outlives this process, and a later
   * one takes it up with {@link #openPinned}.
   */
  public void pin(java.nio.file.Path path) throws LinuxException {
    checkOpen();
    Bpf.pin(fd, path);
  }

  /**
   * The hash map pinned at {@code path}; fails with a clear message if it is not a hash map of
   * {@code keySize}-byte keys and {@code valueSize}-byte values.
   */
  public static BpfHashMap openPinned(java.nio.file.Path path, int keySize, int valueSize)
      throws LinuxException {
    int fd = Bpf.pinned(path);
    try (Arena a = Arena.ofConfined()) {
      // BPF_OBJ_GET_INFO_BY_FD: bpf_fd, info_len, info pointer; struct bpf_map_info starts with
      // type, id, key_size, value_size, max_entries, map_flags.
      MemorySegment info = a.allocate(80, 8);
      MemorySegment attr = a.allocate(ATTR_BYTES, 8);
      attr.set(JAVA_INT, 0, fd);
      attr.set(JAVA_INT, 4, (int) info.byteSize());
      attr.set(JAVA_LONG, 8, info.address());
      Bpf.call(Bpf.OBJ_GET_INFO_BY_FD, attr, "bpf(BPF_OBJ_GET_INFO_BY_FD " + path + ")");
      int type = info.get(JAVA_INT, 0);
      int k = info.get(JAVA_INT, 8);
      int v = info.get(JAVA_INT, 12);
      if (type != BPF_MAP_TYPE_HASH || k != keySize || v != valueSize) {
        throw new LinuxException(
            "bpf(BPF_OBJ_GET " + path + ")",
            "the pinned map is of type "
                + type
                + " with "
                + k
                + "-byte keys and "
                + v
                + "-byte values, not a hash map of "
                + keySize
                + " and "
                + valueSize);
      }
      return new BpfHashMap(fd, keySize, valueSize);
    } catch (LinuxException | RuntimeException e) {
      Sockets.closeQuietly(fd);
      throw e;
    }
  }

  /** Receives each element of {@link #forEach}. */
  public interface ElementVisitor {
    void element(byte[] key, byte[] value);
  }

  /**
   * Visits every element (key order is the kernel's), two system calls per element: next key, then
   * its value; returns how many were visited. Read a map nothing changes meanwhile (as a starting
   * process adopts one): an element removed meanwhile is skipped, but if the key just visited goes,
   * the kernel starts over from the first key.
   */
  public int forEach(ElementVisitor visitor) throws LinuxException {
    checkOpen();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment current = a.allocate(keySize, 8);
      MemorySegment next = a.allocate(keySize, 8);
      MemorySegment attr = a.allocate(ATTR_BYTES, 8);
      attr.set(JAVA_INT, 0, fd);
      attr.set(JAVA_LONG, 8, 0L); // no key: the first one
      attr.set(JAVA_LONG, 16, next.address());
      int visited = 0;
      while (true) {
        try {
          Bpf.call(Bpf.MAP_GET_NEXT_KEY, attr, "bpf(BPF_MAP_GET_NEXT_KEY)");
        } catch (LinuxException e) {
          if (e.errno() == Errno.ENOENT) return visited; // past the last key
          throw e;
        }
        byte[] k = next.toArray(JAVA_BYTE);
        Optional<byte[]> v = get(k);
        if (v.isPresent()) {
          visitor.element(k, v.get());
          visited++;
        }
        MemorySegment.copy(next, 0, current, 0, keySize);
        attr.set(JAVA_LONG, 8, current.address());
      }
    }
  }

  /** The map's descriptor (for programs that use it). */
  public int fd() {
    return fd;
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

  /** Checks the map is open and {@code k} a key of its size, and puts it in the key buffer. */
  private void loadKey(byte[] k) {
    checkOpen();
    checkSize(k, keySize, "key");
    MemorySegment.copy(k, 0, key, JAVA_BYTE, 0, keySize);
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("BPF map " + fd + " is closed");
  }

  private static void checkSize(byte[] b, int size, String what) {
    if (b.length != size)
      throw new IllegalArgumentException(what + " must be " + size + " bytes, got " + b.length);
  }
}
