package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * systemd's readiness protocol ({@code sd_notify(3)}): one datagram to the Unix socket named by
 * {@code $NOTIFY_SOCKET} (a path, or an abstract name written with a leading {@code @}), such as
 * {@code READY=1}, {@code STOPPING=1} or {@code MAINPID=1234}. Without the variable (not run by
 * systemd with {@code Type=notify}) nothing is sent. Stateless and thread-safe.
 */
public final class SdNotify {
  private SdNotify() {}

  /**
   * Sends {@code state} to {@code $NOTIFY_SOCKET}; returns false when there is none.
   *
   * @throws LinuxException when the socket is named but the datagram cannot be sent
   */
  public static boolean notify(String state) throws LinuxException {
    String socket = System.getenv("NOTIFY_SOCKET");
    if (socket == null || socket.isEmpty()) return false;
    send(socket, state);
    return true;
  }

  /** Sends {@code state} to the socket {@code name} (a path, or {@code @abstract}). */
  public static void send(String name, String state) throws LinuxException {
    byte[] path = name.getBytes(StandardCharsets.UTF_8);
    if (path.length == 0 || path.length > UnixSockets.MAX_PATH_BYTES) {
      throw new LinuxException("sd_notify(" + name + ")", "not a socket name of 1 to 107 bytes");
    }
    if (path[0] == '@') path[0] = 0; // abstract namespace
    byte[] message = state.getBytes(StandardCharsets.UTF_8);
    int fd = UnixSockets.socket(UnixSockets.SOCK_DGRAM);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sa = arena.allocate(2 + path.length);
      sa.set(JAVA_SHORT, 0, (short) UnixSockets.AF_UNIX);
      MemorySegment.copy(path, 0, sa, JAVA_BYTE, 2, path.length);
      MemorySegment data = arena.allocate(Math.max(1, message.length));
      MemorySegment.copy(message, 0, data, JAVA_BYTE, 0, message.length);
      var st = Libc.state();
      long r =
          (long)
              Libc.SENDTO.invokeExact(
                  st, fd, data, (long) message.length, Sockets.MSG_NOSIGNAL, sa, 2 + path.length);
      if (r < 0) throw new LinuxException("sendto(" + name + ")", Libc.errno(st));
    } catch (LinuxException e) {
      throw e;
    } catch (Throwable t) {
      throw Sockets.unexpected("sendto", t);
    } finally {
      Sockets.closeQuietly(fd);
    }
  }
}
