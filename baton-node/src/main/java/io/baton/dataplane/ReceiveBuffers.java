package io.baton.dataplane;

import io.baton.linux.LinuxException;
import io.baton.linux.Sysctl;

/**
 * The most a kernel queues unread on one TCP socket of this network namespace: the top of {@code
 * net.ipv4.tcp_rmem} (receive autotuning grows a socket's buffer up to it). It bounds the receive
 * queue a handoff can carry. Stateless; reads the calling thread's namespace.
 */
public final class ReceiveBuffers {
  /** Linux's default top of tcp_rmem, used when it cannot be read. */
  static final long LINUX_DEFAULT = 6L << 20;

  private ReceiveBuffers() {}

  public static long maxBytes() {
    try {
      String[] fields = Sysctl.read("net.ipv4.tcp_rmem").strip().split("\\s+");
      return Long.parseLong(fields[2]);
    } catch (LinuxException | RuntimeException e) {
      return LINUX_DEFAULT;
    }
  }
}
