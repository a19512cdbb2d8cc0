package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

/**
 * Kernel parameters under {@code /proc/sys}, named as sysctl(8) names them: {@code
 * net.ipv4.conf.all.arp_ignore}. A device name may hold a dot ({@code eth0.100}); such a key is
 * written the way sysctl.d(5) says: with {@code /} as separator ({@code
 * net/ipv4/conf/eth0.100/rp_filter}, left as it is), or with dots as separators and the device's
 * dot as {@code /} ({@code net.ipv4.conf.eth0/100.rp_filter}, dots and slashes swapped). {@link
 * #key} builds the second form.
 *
 * <p>Network parameters ({@code net.*}) belong to the network namespace of the thread that
 * <em>opens</em> the file: procfs resolves {@code /proc/sys/net} against {@code current}'s
 * namespace at lookup ({@code net_ctl_header_lookup}, {@code sysctl_is_seen} in
 * fs/proc/proc_sysctl.c), so a thread that entered a namespace reads and writes that namespace's
 * values while the JVM's other threads see their own.
 *
 * <p>Plain open/read/write through FFM rather than {@code java.nio.file.Files}: the kernel reports
 * a rejected value ({@code EINVAL}, {@code ERANGE}) only from write(2), and the JDK turns that into
 * an {@code IOException} with the text but not the errno, so the caller could not tell the cases
 * apart and the message would not match the door's "call failed: text (errno N)".
 *
 * <p>Stateless and thread-safe; acts in the calling thread's network namespace.
 */
public final class Sysctl {
  private static final String ROOT = "/proc/sys/";
  // asm-generic/fcntl.h
  private static final int O_RDONLY = 0;
  private static final int O_WRONLY = 1;
  private static final int O_CLOEXEC = 0x80000;

  /** Longer than any value the kernel prints for one parameter (tcp_rmem and friends: ~30). */
  private static final int MAX_VALUE_BYTES = 4096;

  // ssize_t read(int, void*, size_t), ssize_t write(int, const void*, size_t) (unistd.h).
  private static final MethodHandle READ = errnoCall("read");
  private static final MethodHandle WRITE = errnoCall("write");

  private Sysctl() {}

  /**
   * The value of {@code key} as the kernel prints it, without the trailing newline (several numbers
   * are separated by tabs). Fails with {@code ENOENT} for an unknown key or device.
   */
  public static String read(String key) throws LinuxException {
    String path = path(key);
    try (Arena arena = Arena.ofConfined()) {
      int fd = open(arena, path, O_RDONLY, "O_RDONLY");
      try {
        MemorySegment buf = arena.allocate(MAX_VALUE_BYTES);
        var st = Libc.state();
        long total = 0;
        // The kernel hands the whole value to the first read; read on to EOF all the same.
        while (total < MAX_VALUE_BYTES) {
          long n = (long) READ.invokeExact(st, fd, buf.asSlice(total), MAX_VALUE_BYTES - total);
          if (n == 0) break;
          if (n < 0) {
            int errno = Libc.errno(st);
            if (errno == Errno.EINTR) continue;
            throw new LinuxException("read(" + path + ")", errno);
          }
          total += n;
        }
        String text = new String(buf.asSlice(0, total).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        return text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
      } finally {
        Sockets.closeQuietly(fd);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("read", t);
    }
  }

  /**
   * Sets {@code key} to {@code value} in one write(2), as the kernel requires. Fails with {@code
   * ENOENT} for an unknown key or device, {@code EACCES} for a read-only parameter, {@code EINVAL}
   * for a value the parameter does not take.
   */
  public static void write(String key, String value) throws LinuxException {
    String path = path(key);
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    try (Arena arena = Arena.ofConfined()) {
      int fd = open(arena, path, O_WRONLY, "O_WRONLY");
      try {
        MemorySegment buf = arena.allocate(Math.max(1, bytes.length));
        MemorySegment.copy(bytes, 0, buf, JAVA_BYTE, 0, bytes.length);
        var st = Libc.state();
        while (true) {
          long n = (long) WRITE.invokeExact(st, fd, buf, (long) bytes.length);
          if (n == bytes.length) return;
          if (n >= 0) {
            // A second write would land at an offset, which sysctl_writes_strict rejects or
            // misreads.
            throw new LinuxException(
                "write(" + path + ")", "wrote " + n + " of " + bytes.length + " bytes");
          }
          int errno = Libc.errno(st);
          if (errno != Errno.EINTR) throw new LinuxException("write(" + path + ")", errno);
        }
      } finally {
        Sockets.closeQuietly(fd);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("write", t);
    }
  }

  /**
   * The key of a per-device parameter, {@code net.ipv4.conf.DEVICE.rp_filter}, with a dot in the
   * device name written as {@code /} so that it survives the separator swap.
   */
  public static String key(String prefix, String device, String parameter) {
    return prefix + "." + device.replace('.', '/') + "." + parameter;
  }

  /**
   * {@code /proc/sys/...} for {@code key}, by sysctl.d(5)'s rule: if the first separator is a
   * {@code /}, the key is a path already; if it is a dot, dots and slashes are swapped. Refuses
   * keys that would leave /proc/sys (empty, {@code .} or {@code ..} components).
   */
  static String path(String key) {
    int firstDot = key.indexOf('.');
    int firstSlash = key.indexOf('/');
    boolean slashSeparated = firstSlash >= 0 && (firstDot < 0 || firstSlash < firstDot);
    StringBuilder relative = new StringBuilder(key.length());
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (!slashSeparated && c == '.') c = '/';
      else if (!slashSeparated && c == '/') c = '.';
      relative.append(c);
    }
    for (String component : relative.toString().split("/", -1)) {
      if (component.isEmpty() || component.equals(".") || component.equals("..")) {
        throw new IllegalArgumentException("not a sysctl key: \"" + key + "\"");
      }
    }
    return ROOT + relative;
  }

  private static int open(Arena arena, String path, int flags, String flagsName) throws Throwable {
    var st = Libc.state();
    int fd = (int) Libc.OPEN.invokeExact(st, arena.allocateFrom(path), flags | O_CLOEXEC);
    if (fd < 0) throw new LinuxException("open(" + path + ", " + flagsName + ")", Libc.errno(st));
    return fd;
  }

  // Kept here, not in Libc, only because this change may not touch Libc; same errno capture.
  @SuppressWarnings("restricted")
  private static MethodHandle errnoCall(String name) {
    Linker linker = Linker.nativeLinker();
    MemorySegment symbol =
        linker
            .defaultLookup()
            .find(name)
            .orElseThrow(() -> new IllegalStateException("libc symbol not found: " + name));
    FunctionDescriptor descriptor = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
    return linker.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
  }
}
