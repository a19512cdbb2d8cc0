package io.baton.linux;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code errno} values the door and its callers act on (from {@code asm-generic/errno-base.h} and
 * {@code asm-generic/errno.h}) and their human text via libc {@code strerror_r}.
 *
 * <p>Thread-safe.
 */
public final class Errno {
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int EINTR = 4;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EACCES = 13;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int ENODEV = 19;
  public static final int EINVAL = 22;
  public static final int EPIPE = 32;
  public static final int ENOPROTOOPT = 92;
  public static final int EADDRINUSE = 98;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ECONNRESET = 104;
  public static final int ENOBUFS = 105;
  public static final int ENOTCONN = 107;
  public static final int ETIMEDOUT = 110;
  public static final int ECONNREFUSED = 111;
  public static final int EINPROGRESS = 115;

  private Errno() {}

  /** "Invalid argument (errno 22)"; never throws. */
  public static String describe(int errno) {
    if (errno == 0) {
      return "no errno";
    }
    String text = strerror(errno);
    return (text == null ? "unknown error" : text) + " (errno " + errno + ")";
  }

  private static String strerror(int errno) {
    MethodHandle h = Libc.STRERROR_R;
    if (h == null) {
      return null;
    }
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(256);
      // GNU strerror_r returns a pointer to the text, which may or may not be buf.
      MemorySegment p = (MemorySegment) h.invokeExact(errno, buf, 256L);
      return Libc.cString(p, 256);
    } catch (Throwable t) {
      return null;
    }
  }
}
