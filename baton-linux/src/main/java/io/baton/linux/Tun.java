package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * Checked wrappers for a TUN device (Documentation/networking/tuntap.rst): a virtual IP interface
 * backed by a file descriptor. Every packet the kernel routes out of the interface is one read(2)
 * on the descriptor; every packet written to it, one write(2), the kernel receives as if it had
 * arrived on the interface. Packets are bare IP ({@code IFF_NO_PI}: no packet-info header in
 * front).
 *
 * <p>The device is not persistent: it exists while its descriptor is open and goes away with the
 * last close, routes through it included, so a crashed program leaves nothing behind. {@code
 * TUNSETIFF} creates it in the network namespace of the <em>calling thread</em>: open it on a
 * thread inside the namespace that should have it.
 *
 * <p>Stateless and thread-safe; one reader and one writer per descriptor at a time. Reads and
 * writes go through a per-thread native buffer, so callers deal in {@code byte[]} only.
 */
public final class Tun {
  // linux/if_tun.h
  /** {@code _IOW('T', 202, int)}: attach the descriptor to a (new) device named in an ifreq. */
  static final long TUNSETIFF = 0x400454CAL;

  static final short IFF_TUN = 0x0001;
  static final short IFF_NO_PI = 0x1000;
  // linux/if.h: struct ifreq is char ifr_name[IFNAMSIZ] followed by a union whose largest member
  // (struct ifmap, LP64) takes 24 bytes; ifr_flags is the union's first short.
  static final int IFNAMSIZ = 16;
  private static final long IFREQ_BYTES = IFNAMSIZ + 24;
  private static final long IFR_FLAGS_OFFSET = IFNAMSIZ;
  // asm-generic/fcntl.h
  private static final int O_RDWR = 2;
  private static final int O_NONBLOCK = 0x800;
  private static final int O_CLOEXEC = 0x80000;

  private static final String CLONE_DEVICE = "/dev/net/tun";

  /**
   * The longest packet a read can return: an IPv6 header and a 16-bit payload length (the device
   * has no GSO offloads unless {@code TUNSETOFFLOAD} grants them, so reads never exceed its MTU in
   * practice).
   */
  public static final int MAX_PACKET_BYTES = 40 + 65_535;

  private static final ThreadLocal<MemorySegment> BUFFER =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(MAX_PACKET_BYTES));

  private Tun() {}

  /**
   * An open TUN device: its descriptor and the name the kernel gave it. {@link #close} closes the
   * descriptor, which deletes the device. Immutable; confined like the descriptor it names.
   */
  public record Device(int fd, String name) implements AutoCloseable {
    @Override
    public void close() {
      Sockets.closeQuietly(fd);
    }
  }

  /**
   * Creates TUN device {@code name} ({@code IFF_TUN | IFF_NO_PI}) in the calling thread's network
   * namespace and returns it; the device starts down, without addresses. The descriptor is
   * non-blocking: {@link #read} returns -1 when nothing is queued, so a reader waits with {@link
   * Sockets#poll} and a timeout and can notice that it should stop (close(2) from another thread
   * does not wake a thread blocked in read(2)). Needs {@code CAP_NET_ADMIN}; fails with {@code
   * EBUSY} when a device of that name exists.
   */
  public static Device open(String name) throws LinuxException {
    byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
    if (name.isEmpty() || nameBytes.length >= IFNAMSIZ || name.indexOf('/') >= 0) {
      throw new IllegalArgumentException(
          "'" + name + "' is not an interface name (1 to " + (IFNAMSIZ - 1) + " bytes, no '/')");
    }
    try (Arena arena = Arena.ofConfined()) {
      var st = Libc.state();
      int fd =
          (int)
              Libc.OPEN.invokeExact(
                  st, arena.allocateFrom(CLONE_DEVICE), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) throw new LinuxException("open(" + CLONE_DEVICE + ")", Libc.errno(st));
      try {
        MemorySegment ifreq = arena.allocate(IFREQ_BYTES, 8);
        MemorySegment.copy(nameBytes, 0, ifreq, JAVA_BYTE, 0, nameBytes.length);
        ifreq.set(JAVA_SHORT, IFR_FLAGS_OFFSET, (short) (IFF_TUN | IFF_NO_PI));
        int r = (int) Libc.IOCTL_PTR.invokeExact(st, fd, TUNSETIFF, ifreq);
        if (r < 0) throw new LinuxException("ioctl(TUNSETIFF, " + name + ")", Libc.errno(st));
        // The kernel writes back the name it used (it differs only for a "%d" pattern).
        return new Device(fd, ifreq.getString(0, StandardCharsets.US_ASCII));
      } catch (Throwable t) {
        Sockets.closeQuietly(fd);
        throw t;
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("open(" + CLONE_DEVICE + ")", t);
    }
  }

  /**
   * Reads the next packet into {@code into} and returns its length, or -1 when none is queued. A
   * packet longer than {@code into} is cut short, as read(2) on the device does; a buffer of {@link
   * #MAX_PACKET_BYTES} never cuts. {@code EINTR} is retried.
   */
  public static int read(int fd, byte[] into) throws LinuxException {
    MemorySegment buf = BUFFER.get();
    long capacity = Math.min(into.length, MAX_PACKET_BYTES);
    try {
      var st = Libc.state();
      while (true) {
        long n = (long) Libc.READ.invokeExact(st, fd, buf, capacity);
        if (n >= 0) {
          MemorySegment.copy(buf, JAVA_BYTE, 0, into, 0, (int) n);
          return (int) n;
        }
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return -1;
        if (errno != Errno.EINTR) throw new LinuxException("read(tun fd " + fd + ")", errno);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("read", t);
    }
  }

  /**
   * Hands {@code packet[0, length)}, one whole IP packet, to the kernel as received on the device;
   * returns {@code length}, or -1 when the device cannot take it now ({@code EAGAIN}). {@code
   * EINTR} is retried.
   */
  public static int write(int fd, byte[] packet, int length) throws LinuxException {
    if (length <= 0 || length > MAX_PACKET_BYTES || length > packet.length) {
      throw new IllegalArgumentException(
          "packet length " + length + " is not in 1.." + MAX_PACKET_BYTES);
    }
    MemorySegment buf = BUFFER.get();
    MemorySegment.copy(packet, 0, buf, JAVA_BYTE, 0, length);
    try {
      var st = Libc.state();
      while (true) {
        long n = (long) Libc.WRITE.invokeExact(st, fd, buf, (long) length);
        if (n >= 0) return (int) n;
        int errno = Libc.errno(st);
        if (errno == Errno.EAGAIN) return -1;
        if (errno != Errno.EINTR) throw new LinuxException("write(tun fd " + fd + ")", errno);
      }
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("write", t);
    }
  }
}
