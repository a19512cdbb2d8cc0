package io.baton.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Socket filters that drop every packet, so that a socket being exported stops acknowledging the
 * client while its state is copied. Dropped segments are retransmitted by the client; nothing is
 * reset.
 *
 * <p>The filter is one eBPF program ({@code r0 = 0; exit}), loaded once per process with {@code
 * bpf(BPF_PROG_LOAD)} and attached to each socket by descriptor ({@code SO_ATTACH_BPF}): attaching
 * takes a reference. A classic filter ({@code SO_ATTACH_FILTER}) is instead converted and
 * JIT-compiled by the kernel for every socket, and its executable pages written and later freed:
 * measured at ~8% of the dispatcher's CPU time per handoff (perf: sk_attach_filter,
 * bpf_int_jit_compile, text_poke). Where the kernel refuses {@code bpf(2)} (lockdown, seccomp),
 * each socket gets the classic filter instead; {@link #sharedProgramProblem} says why, for the
 * caller to log.
 *
 * <p>Thread-safe.
 */
public final class SocketFilters {
  // linux/bpf_common.h: BPF_RET | BPF_K
  private static final short BPF_RET_K = 0x06;
  // linux/bpf.h
  private static final int BPF_PROG_TYPE_SOCKET_FILTER = 1;
  private static final byte BPF_MOV64_IMM = (byte) 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
  private static final byte BPF_EXIT = (byte) 0x95; // BPF_JMP | BPF_EXIT
  // asm-generic/socket.h
  private static final int SO_ATTACH_BPF = 50;

  /** The loaded program's descriptor, or the reason there is none. */
  private record Shared(int fd, String problem) {}

  private static volatile Shared shared;

  private SocketFilters() {}

  /** Attaches a drop-all filter: the socket's kernel ignores every incoming packet. */
  public static void attachDropAll(int fd) throws LinuxException {
    Shared s = shared();
    if (s.fd() >= 0) {
      Sockets.setInt(fd, Sockets.SOL_SOCKET, SO_ATTACH_BPF, s.fd(), "SO_ATTACH_BPF");
    } else {
      attachClassicDropAll(fd);
    }
  }

  /** Removes the socket's filter, whichever kind it is (SO_DETACH_BPF is SO_DETACH_FILTER). */
  public static void detach(int fd) throws LinuxException {
    Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_DETACH_FILTER, 0, "SO_DETACH_FILTER");
  }

  /**
   * Why the shared eBPF program could not be loaded (each socket then gets a classic filter,
   * compiled per socket), or {@code null} when it is in use. Loads it on first call.
   */
  public static String sharedProgramProblem() {
    return shared().problem();
  }

  private static Shared shared() {
    Shared s = shared;
    if (s != null) return s;
    synchronized (SocketFilters.class) {
      if (shared == null) shared = load();
      return shared;
    }
  }

  private static Shared load() {
    try (Arena arena = Arena.ofConfined()) {
      // struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; }: r0 = 0; exit
      MemorySegment insns = arena.allocate(16, 8);
      insns.set(JAVA_BYTE, 0, BPF_MOV64_IMM);
      insns.set(JAVA_BYTE, 8, BPF_EXIT);
      MemorySegment license = arena.allocateFrom("GPL");
      // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns, license, log_level,
      // log_size, log_buf, kern_version, prog_flags (48 bytes; the kernel zero-fills the rest).
      MemorySegment attr = arena.allocate(48, 8);
      attr.set(JAVA_INT, 0, BPF_PROG_TYPE_SOCKET_FILTER);
      attr.set(JAVA_INT, 4, 2);
      attr.set(JAVA_LONG, 8, insns.address());
      attr.set(JAVA_LONG, 16, license.address());
      return new Shared(Bpf.call(Bpf.PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)"), null);
    } catch (LinuxException e) {
      return new Shared(-1, e.getMessage());
    } catch (RuntimeException e) {
      return new Shared(-1, "bpf(BPF_PROG_LOAD) failed: " + e);
    }
  }

  /** {@code ret #0} as a classic filter: converted and JIT-compiled by the kernel per socket. */
  static void attachClassicDropAll(int fd) throws LinuxException {
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
}
