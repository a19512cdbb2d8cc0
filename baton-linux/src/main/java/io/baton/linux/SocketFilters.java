package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Classic BPF socket filters (linux/filter.h). Baton needs one: a filter that drops every
 * packet, so that a socket being exported stops acknowledging the client while its state is
 * copied. Dropped segments are retransmitted by the client; nothing is reset.
 *
 * <p>Stateless and thread-safe.
 */
public final class SocketFilters {
  // linux/bpf_common.h: BPF_RET | BPF_K
  private static final short BPF_RET_K = 0x06;

  private SocketFilters() {}

  /** Attaches {@code ret #0}: the socket's kernel ignores every incoming packet. */
  public static void attachDropAll(int fd) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
      MemorySegment insn = arena.allocate(8);
      insn.set(JAVA_SHORT, 0, BPF_RET_K);
      insn.set(JAVA_BYTE, 2, (byte) 0);
      insn.set(JAVA_BYTE, 3, (byte) 0);
      insn.set(JAVA_INT, 4, 0);
      // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (16 bytes on LP64)
      MemorySegment prog = arena.allocate(16, 8);
      prog.set(JAVA_SHORT, 0, (short) 1);
      prog.set(ADDRESS, 8, insn);
      Sockets.setBytes(fd, Sockets.SOL_SOCKET, Sockets.SO_ATTACH_FILTER, prog, "SO_ATTACH_FILTER");
    }
  }

  public static void detach(int fd) throws LinuxException {
    Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_DETACH_FILTER, 0, "SO_DETACH_FILTER");
  }
}
