package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * The fields of {@code struct tcp_info} (linux/tcp.h) that Baton uses, decoded from {@code
 * getsockopt(TCP_INFO)}. Immutable.
 *
 * @param state TCP state, see the {@code STATE_*} constants (include/net/tcp_states.h)
 * @param options {@code tcpi_options} bits, see the {@code OPT_*} constants
 * @param sndWscale window scale this side applies to the peer's advertised window
 * @param rcvWscale window scale this side applies to its own advertised window
 */
public record TcpInfo(
    int state,
    int options,
    int sndWscale,
    int rcvWscale,
    int rtoUs,
    int sndMss,
    int rcvMss,
    int unacked,
    int rttUs,
    int sndCwnd,
    int totalRetrans,
    long bytesAcked,
    long bytesReceived,
    long bytesSent,
    long bytesRetrans,
    int segsOut,
    int segsIn,
    int notsentBytes) {

  // include/net/tcp_states.h
  public static final int STATE_ESTABLISHED = 1;
  public static final int STATE_SYN_SENT = 2;
  public static final int STATE_SYN_RECV = 3;
  public static final int STATE_FIN_WAIT1 = 4;
  public static final int STATE_FIN_WAIT2 = 5;
  public static final int STATE_TIME_WAIT = 6;
  public static final int STATE_CLOSE = 7;
  public static final int STATE_CLOSE_WAIT = 8;
  public static final int STATE_LAST_ACK = 9;
  public static final int STATE_LISTEN = 10;
  public static final int STATE_CLOSING = 11;

  // linux/tcp.h TCPI_OPT_*
  public static final int OPT_TIMESTAMPS = 1;
  public static final int OPT_SACK = 2;
  public static final int OPT_WSCALE = 4;

  private static final int STRUCT_BYTES = 256;

  /** Reads and decodes TCP_INFO of {@code fd}. */
  public static TcpInfo of(int fd) throws LinuxException {
    MemorySegment s = Libc.scratch(Libc.Scratch.STRUCT, STRUCT_BYTES).fill((byte) 0);
    int len = Sockets.getBytes(fd, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, s, "TCP_INFO");
    if (len < 216) {
      throw new LinuxException("getsockopt(TCP_INFO)", "kernel returned only " + len + " bytes");
    }
    int wscale = Byte.toUnsignedInt(s.get(JAVA_BYTE, 6));
    return new TcpInfo(
        Byte.toUnsignedInt(s.get(JAVA_BYTE, 0)),
        Byte.toUnsignedInt(s.get(JAVA_BYTE, 5)),
        wscale & 0x0f,
        wscale >>> 4,
        s.get(JAVA_INT, 8),
        s.get(JAVA_INT, 16),
        s.get(JAVA_INT, 20),
        s.get(JAVA_INT, 24),
        s.get(JAVA_INT, 68),
        s.get(JAVA_INT, 80),
        s.get(JAVA_INT, 100),
        s.get(JAVA_LONG, 120),
        s.get(JAVA_LONG, 128),
        s.get(JAVA_LONG, 200),
        s.get(JAVA_LONG, 208),
        s.get(JAVA_INT, 136),
        s.get(JAVA_INT, 140),
        s.get(JAVA_INT, 144));
  }

  /**
   * Only the state of {@code fd}'s connection ({@code tcpi_state}, the first byte of {@code struct
   * tcp_info}; the kernel copies no more than asked for). A socket whose connection reached
   * TIME_WAIT shows {@link #STATE_CLOSE} here: the kernel handed the connection to a time-wait
   * socket of its own and is done with this one.
   */
  public static int stateOf(int fd) throws LinuxException {
    MemorySegment s = Libc.scratch(Libc.Scratch.INT, 4).fill((byte) 0);
    int len = Sockets.getBytes(fd, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, s, "TCP_INFO");
    if (len < 1) throw new LinuxException("getsockopt(TCP_INFO)", "kernel returned no state");
    return Byte.toUnsignedInt(s.get(JAVA_BYTE, 0));
  }

  public boolean timestamps() {
    return (options & OPT_TIMESTAMPS) != 0;
  }

  public boolean sack() {
    return (options & OPT_SACK) != 0;
  }

  public boolean windowScaling() {
    return (options & OPT_WSCALE) != 0;
  }

  /** The state's name as in the kernel, e.g. {@code CLOSE_WAIT}. */
  public static String stateName(int state) {
    return switch (state) {
      case STATE_ESTABLISHED -> "ESTABLISHED";
      case STATE_SYN_SENT -> "SYN_SENT";
      case STATE_SYN_RECV -> "SYN_RECV";
      case STATE_FIN_WAIT1 -> "FIN_WAIT1";
      case STATE_FIN_WAIT2 -> "FIN_WAIT2";
      case STATE_TIME_WAIT -> "TIME_WAIT";
      case STATE_CLOSE -> "CLOSE";
      case STATE_CLOSE_WAIT -> "CLOSE_WAIT";
      case STATE_LAST_ACK -> "LAST_ACK";
      case STATE_LISTEN -> "LISTEN";
      case STATE_CLOSING -> "CLOSING";
      default -> "STATE_" + state;
    };
  }
}
