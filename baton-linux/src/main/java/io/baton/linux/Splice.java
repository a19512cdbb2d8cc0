package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Checked wrappers for zero-copy moves between descriptors: pipe2(2), splice(2) and the pipe
 * capacity fcntls. Socket-to-socket splicing goes through a pipe: socket → pipe → socket, the bytes
 * staying in kernel pages all the way.
 *
 * <p>Unlike Netty's native splice, {@link #splice} keeps end of stream (0) and "would block" (-1)
 * apart, which a relay needs to forward a half-close without spinning on a drained socket.
 *
 * <p>Stateless and thread-safe; a descriptor's owner decides which thread uses it.
 */
public final class Splice {
  // linux/splice.h (uapi: linux/fcntl.h has F_SETPIPE_SZ, bits/fcntl-linux.h the SPLICE_F_*)
  public static final int SPLICE_F_MOVE = 1;
  public static final int SPLICE_F_NONBLOCK = 2;
  public static final int SPLICE_F_MORE = 4;
  // linux/fcntl.h: F_LINUX_SPECIFIC_BASE (1024) + 7 / + 8
  static final int F_SETPIPE_SZ = 1031;
  static final int F_GETPIPE_SZ = 1032;
  // asm-generic/fcntl.h
  static final int O_CLOEXEC = 0x80000;

  private Splice() {}

  /**
   * The two ends of a pipe made with {@code O_NONBLOCK | O_CLOEXEC}. {@link #close} closes both.
   * Immutable; confined like the descriptors it names.
   */
  public record Pipe(int readFd, int writeFd) implements AutoCloseable {
    @Override
    public void close() {
      Sockets.closeQuietly(readFd);
      Sockets.closeQuietly(writeFd);
    }
  }

  /** pipe2(2): a new non-blocking, close-on-exec pipe. */
  public static Pipe pipe() throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fds = arena.allocate(JAVA_INT, 2);
      var st = Libc.state();
      int r = (int) Libc.PIPE2.invokeExact(st, fds, Sockets.O_NONBLOCK | O_CLOEXEC);
      if (r < 0) throw new LinuxException("pipe2(O_NONBLOCK|O_CLOEXEC)", Libc.errno(st));
      return new Pipe(fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("pipe2", t);
    }
  }

  /**
   * fcntl(F_SETPIPE_SZ): asks for a pipe of at least {@code bytes} (rounded up to pages by the
   * kernel; unprivileged callers are capped by {@code /proc/sys/fs/pipe-max-size}). Returns the
   * capacity the pipe now has.
   */
  public static int setPipeCapacity(int pipeFd, int bytes) throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.FCNTL_INT.invokeExact(st, pipeFd, F_SETPIPE_SZ, bytes);
      if (r < 0) throw new LinuxException("fcntl(F_SETPIPE_SZ, " + bytes + ")", Libc.errno(st));
      return r;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("fcntl", t);
    }
  }

  /** fcntl(F_GETPIPE_SZ): the pipe's capacity in bytes. */
  public static int pipeCapacity(int pipeFd) throws LinuxException {
    try {
      var st = Libc.state();
      int r = (int) Libc.FCNTL_INT.invokeExact(st, pipeFd, F_GETPIPE_SZ, 0);
      if (r < 0) throw new LinuxException("fcntl(F_GETPIPE_SZ)", Libc.errno(st));
      return r;
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("fcntl", t);
    }
  }

  /**
   * splice(2) of up to {@code len} bytes from {@code fdIn} to {@code fdOut} (one of them a pipe),
   * no offsets. Returns the bytes moved, 0 at end of stream of {@code fdIn}, or -1 when it would
   * block ({@code EAGAIN}). {@code EINTR} is retried.
   */
  public static long splice(int fdIn, int fdOut, long len, int flags) throws LinuxException {
    try {
      while (true) {
        var st = Libc.state();
        long r =
            (long)
                Libc.SPLICE.invokeExact(
                    st, fdIn, MemorySegment.NULL, fdOut, MemorySegment.NULL, len, flags);
        if (r >= 0) return r;
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return -1;
        if (errno != Errno.EINTR) {
          throw new LinuxException("splice(" + fdIn + " -> " + fdOut + ")", errno);
        }
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("splice", t);
    }
  }
}
