package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * The TCP_REPAIR family of socket options (linux/tcp.h): switching a socket into repair mode,
 * reading and setting queue sequence numbers, options, window and timestamp. Needs CAP_NET_ADMIN.
 *
 * <p>Only the mechanics live here; the order in which a connection is exported and restored is the
 * business of the caller. Stateless and thread-safe.
 */
public final class TcpRepair {
  // linux/tcp.h
  public static final int TCP_REPAIR = 19;
  public static final int TCP_REPAIR_QUEUE = 20;
  public static final int TCP_QUEUE_SEQ = 21;
  public static final int TCP_REPAIR_OPTIONS = 22;
  public static final int TCP_TIMESTAMP = 24;
  public static final int TCP_REPAIR_WINDOW = 29;
  public static final int TCP_NO_QUEUE = 0;
  public static final int TCP_RECV_QUEUE = 1;
  public static final int TCP_SEND_QUEUE = 2;
  public static final int TCP_REPAIR_ON = 1;
  public static final int TCP_REPAIR_OFF = 0;

  /** Leave repair mode without sending a window probe. */
  public static final int TCP_REPAIR_OFF_NO_WP = -1;

  // include/net/tcp.h TCPOPT_*
  public static final int TCPOPT_MSS = 2;
  public static final int TCPOPT_WINDOW = 3;
  public static final int TCPOPT_SACK_PERM = 4;
  public static final int TCPOPT_TIMESTAMP = 8;

  private TcpRepair() {}

  public static void on(int fd) throws LinuxException {
    Sockets.setInt(fd, Sockets.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on");
  }

  /** Leaves repair mode; with {@code windowProbe} the kernel sends a probe to elicit an ACK. */
  public static void off(int fd, boolean windowProbe) throws LinuxException {
    Sockets.setInt(
        fd,
        Sockets.IPPROTO_TCP,
        TCP_REPAIR,
        windowProbe ? TCP_REPAIR_OFF : TCP_REPAIR_OFF_NO_WP,
        "TCP_REPAIR off");
  }

  /** Selects the queue that TCP_QUEUE_SEQ, peeking recv and repair-mode send act on. */
  public static void selectQueue(int fd, int queue) throws LinuxException {
    Sockets.setInt(fd, Sockets.IPPROTO_TCP, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
  }

  /** Sequence number of the selected queue: write_seq for send, rcv_nxt for receive. */
  public static int queueSeq(int fd) throws LinuxException {
    return Sockets.getInt(fd, Sockets.IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ");
  }

  /** Sets the selected queue's sequence number; only valid before connect() in repair mode. */
  public static void setQueueSeq(int fd, int seq) throws LinuxException {
    Sockets.setInt(fd, Sockets.IPPROTO_TCP, TCP_QUEUE_SEQ, seq, "TCP_QUEUE_SEQ");
  }

  public static int timestamp(int fd) throws LinuxException {
    return Sockets.getInt(fd, Sockets.IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP");
  }

  public static void setTimestamp(int fd, int value) throws LinuxException {
    Sockets.setInt(fd, Sockets.IPPROTO_TCP, TCP_TIMESTAMP, value, "TCP_TIMESTAMP");
  }

  public static int maxSegment(int fd) throws LinuxException {
    return Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_MAXSEG, "TCP_MAXSEG");
  }

  /** {@code struct tcp_repair_window}; all fields are u32 kept in Java ints. */
  public record Window(int sndWl1, int sndWnd, int maxWindow, int rcvWnd, int rcvWup) {}

  public static Window window(int fd) throws LinuxException {
    MemorySegment w = Libc.scratch(Libc.Scratch.STRUCT, 20).fill((byte) 0);
    int len = Sockets.getBytes(fd, Sockets.IPPROTO_TCP, TCP_REPAIR_WINDOW, w, "TCP_REPAIR_WINDOW");
    if (len != 20) {
      throw new LinuxException(
          "getsockopt(TCP_REPAIR_WINDOW)", "kernel returned " + len + " bytes");
    }
    return new Window(
        w.get(JAVA_INT, 0),
        w.get(JAVA_INT, 4),
        w.get(JAVA_INT, 8),
        w.get(JAVA_INT, 12),
        w.get(JAVA_INT, 16));
  }

  public static void setWindow(int fd, Window window) throws LinuxException {
    MemorySegment w = Libc.scratch(Libc.Scratch.STRUCT, 20);
    w.set(JAVA_INT, 0, window.sndWl1());
    w.set(JAVA_INT, 4, window.sndWnd());
    w.set(JAVA_INT, 8, window.maxWindow());
    w.set(JAVA_INT, 12, window.rcvWnd());
    w.set(JAVA_INT, 16, window.rcvWup());
    Sockets.setBytes(fd, Sockets.IPPROTO_TCP, TCP_REPAIR_WINDOW, w, "TCP_REPAIR_WINDOW");
  }

  /**
   * Sets TCP_REPAIR_OPTIONS, an array of {@code struct tcp_repair_opt {u32 code; u32 value}}.
   * {@code codesAndValues} alternates code and value.
   */
  public static void setOptions(int fd, int... codesAndValues) throws LinuxException {
    if (codesAndValues.length == 0 || codesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("options come in code/value pairs");
    }
    if (4L * codesAndValues.length > Libc.Scratch.STRUCT_BYTES) {
      throw new IllegalArgumentException(codesAndValues.length / 2 + " options: more than TCP has");
    }
    MemorySegment opts = Libc.scratch(Libc.Scratch.STRUCT, 4L * codesAndValues.length);
    for (int i = 0; i < codesAndValues.length; i++) {
      opts.set(JAVA_INT, 4L * i, codesAndValues[i]);
    }
    Sockets.setBytes(fd, Sockets.IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, "TCP_REPAIR_OPTIONS");
  }

  /** Makes {@code fd} reuse-free-for-bind as repair mode does; never call SO_REUSEADDR after. */
  public static void setTransparent(int fd) throws LinuxException {
    Sockets.setTransparent(fd, Sockets.AF_INET);
  }

  /** As {@link #setTransparent(int)} for a socket of {@code family} (IPV6_TRANSPARENT for IPv6). */
  public static void setTransparent(int fd, int family) throws LinuxException {
    Sockets.setTransparent(fd, family);
  }
}
