package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc method handles, looked up once. Every handle that can fail captures {@code errno} and
 * takes the capture segment as its first argument (see {@link #state()}).
 *
 * <p>Package-private: callers go through the checked wrappers ({@link Sockets}, {@link TcpRepair},
 * ...). Thread-safe; the capture segment is per thread.
 */
final class Libc {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CAPTURE.varHandle(PathElement.groupElement("errno"));
  private static final ThreadLocal<MemorySegment> STATE =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

  static final MethodHandle SOCKET = errnoCall("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  static final MethodHandle BIND = errnoCall("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle CONNECT = errnoCall("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle LISTEN = errnoCall("listen", JAVA_INT, JAVA_INT, JAVA_INT);
  static final MethodHandle ACCEPT4 =
      errnoCall("accept4", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
  static final MethodHandle CLOSE = errnoCall("close", JAVA_INT, JAVA_INT);
  static final MethodHandle SHUTDOWN = errnoCall("shutdown", JAVA_INT, JAVA_INT, JAVA_INT);
  static final MethodHandle SETSOCKOPT =
      errnoCall("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle GETSOCKOPT =
      errnoCall("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  static final MethodHandle GETSOCKNAME =
      errnoCall("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  static final MethodHandle GETPEERNAME =
      errnoCall("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  static final MethodHandle RECV =
      errnoCall("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  static final MethodHandle SEND =
      errnoCall("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  static final MethodHandle SENDTO =
      errnoCall("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle SENDMSG = errnoCall("sendmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle RECVMSG = errnoCall("recvmsg", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle UNLINK = errnoCall("unlink", JAVA_INT, ADDRESS);
  static final MethodHandle POLL = errnoCall("poll", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  // ssize_t read(int, void*, size_t), ssize_t write(int, const void*, size_t): for descriptors
  // that are not sockets (a TUN device), where recv/send fail with ENOTSOCK.
  static final MethodHandle READ = errnoCall("read", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  static final MethodHandle WRITE = errnoCall("write", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
  static final MethodHandle SETNS = errnoCall("setns", JAVA_INT, JAVA_INT, JAVA_INT);
  static final MethodHandle UNSHARE = errnoCall("unshare", JAVA_INT, JAVA_INT);
  static final MethodHandle PIPE2 = errnoCall("pipe2", JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle SPLICE =
      errnoCall("splice", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  // Variadic: ioctl(int, unsigned long, ...), fcntl(int, int, ...), open(const char*, int, ...).
  static final MethodHandle IOCTL_PTR =
      variadicErrnoCall("ioctl", 2, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
  static final MethodHandle FCNTL_INT =
      variadicErrnoCall("fcntl", 2, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  static final MethodHandle OPEN = variadicErrnoCall("open", 2, JAVA_INT, ADDRESS, JAVA_INT);
  // long syscall(long number, ...): for bpf(2), which glibc does not wrap.
  static final MethodHandle SYSCALL_INT_PTR_INT =
      variadicErrnoCall("syscall", 1, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  static final MethodHandle GETTID = plainCall("gettid", JAVA_INT);
  static final MethodHandle STRERROR_R =
      plainCall("strerror_r", ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);

  private Libc() {}

  /** This thread's errno capture segment; pass it as the first argument of an errno handle. */
  static MemorySegment state() {
    return STATE.get();
  }

  /**
   * Per-thread scratch memory for system calls' small arguments; see {@link #scratch(long, long)}.
   */
  private static final ThreadLocal<MemorySegment> SCRATCH =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(Scratch.BYTES, 8));

  /**
   * {@code size} bytes of this thread's scratch memory at {@code offset} (a {@link Scratch} slot),
   * for a system call's small arguments and results without a malloc/free pair per call. Valid
   * until the same slot is used again on this thread: callers read what they need before returning,
   * and nested calls use other slots.
   */
  static MemorySegment scratch(long offset, long size) {
    return SCRATCH.get().asSlice(offset, size);
  }

  /** The scratch slots: which call uses which bytes (nested calls never share one). */
  static final class Scratch {
    /** getsockopt's length in/out ({@code Sockets.getBytes}); getsockname's length. */
    static final long LENGTH = 0;

    /** An int value (getInt, setInt, ioctlInt). */
    static final long INT = 8;

    /** A sockaddr_in (getsockname, getpeername). */
    static final long SOCKADDR = 16;

    /** A struct a caller of getBytes/setBytes fills or reads (TCP_INFO, repair window, options). */
    static final long STRUCT = 64;

    static final long STRUCT_BYTES = 256;
    static final long BYTES = STRUCT + STRUCT_BYTES;

    private Scratch() {}
  }

  /** The errno captured by the last call that used {@code state}. */
  static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }

  /** Reads the NUL-terminated string a native call returned; NULL reads as "". */
  @SuppressWarnings("restricted")
  static String cString(MemorySegment p, long maxBytes) {
    if (p.equals(MemorySegment.NULL)) return "";
    return p.reinterpret(maxBytes).getString(0);
  }

  @SuppressWarnings("restricted")
  private static MethodHandle errnoCall(
      String name, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
    MemorySegment symbol = LIBC.find(name).orElseThrow(() -> missing(name));
    return LINKER.downcallHandle(symbol, FunctionDescriptor.of(result, args), ERRNO_OPTION);
  }

  @SuppressWarnings("restricted")
  private static MethodHandle variadicErrnoCall(
      String name,
      int firstVariadic,
      java.lang.foreign.MemoryLayout result,
      java.lang.foreign.MemoryLayout... args) {
    MemorySegment symbol = LIBC.find(name).orElseThrow(() -> missing(name));
    return LINKER.downcallHandle(
        symbol,
        FunctionDescriptor.of(result, args),
        ERRNO_OPTION,
        Linker.Option.firstVariadicArg(firstVariadic));
  }

  @SuppressWarnings("restricted")
  private static MethodHandle plainCall(
      String name, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
    MemorySegment symbol = LIBC.find(name).orElseThrow(() -> missing(name));
    return LINKER.downcallHandle(symbol, FunctionDescriptor.of(result, args));
  }

  private static IllegalStateException missing(String name) {
    return new IllegalStateException("libc symbol not found: " + name);
  }
}
