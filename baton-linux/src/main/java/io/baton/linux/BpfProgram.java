package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * Loading, attaching and test-running a tc ({@code BPF_PROG_TYPE_SCHED_CLS}) program with {@code
 * bpf(2)}: the steps {@link TcForwarder}, {@link FlowForwarder} and {@link EncapReceiver} share.
 * Stateless and thread-safe; descriptors are the caller's to close.
 */
final class BpfProgram {
  private static final int BPF_PROG_TYPE_SCHED_CLS = 3;
  private static final int BPF_PROG_TEST_RUN = 10;
  private static final int BPF_TCX_INGRESS = 46;
  private static final int LOG_BYTES = 1 << 16;

  /** tcx verdicts: on to the next program or the stack, straight to the stack, drop. */
  static final int TCX_NEXT = -1, TCX_PASS = 0, TCX_DROP = 2;

  /** What a program returned for a redirect ({@code TC_ACT_REDIRECT}). */
  static final int TC_ACT_REDIRECT = 7;

  private BpfProgram() {}

  /**
   * Loads {@code insns} as a tc program (GPL, so it may call every helper); the verifier's
   * explanation of a refusal (its last 800 characters) is in the exception, named {@code what}.
   */
  static int load(byte[] insns, String what) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment code = arena.allocate(insns.length, 8);
      MemorySegment.copy(insns, 0, code, JAVA_BYTE, 0, insns.length);
      MemorySegment license = arena.allocateFrom("GPL");
      MemorySegment log = arena.allocate(LOG_BYTES);
      MemorySegment attr = arena.allocate(128, 8);
      attr.set(JAVA_INT, 0, BPF_PROG_TYPE_SCHED_CLS);
      attr.set(JAVA_INT, 4, insns.length / 8);
      attr.set(JAVA_LONG, 8, code.address());
      attr.set(JAVA_LONG, 16, license.address());
      attr.set(JAVA_INT, 24, 1); // log_level: the verifier explains a refusal
      attr.set(JAVA_INT, 28, LOG_BYTES);
      attr.set(JAVA_LONG, 32, log.address());
      try {
        return Bpf.call(Bpf.PROG_LOAD, attr, "bpf(BPF_PROG_LOAD " + what + ")");
      } catch (LinuxException e) {
        String verifier = log.getString(0, StandardCharsets.US_ASCII).strip();
        int from = Math.max(0, verifier.length() - 800);
        // EPERM/EACCES without root: tc programs need CAP_BPF and CAP_NET_ADMIN, and the
        // verifier refuses these programs' packet and stack accesses without CAP_PERFMON (its
        // Spectre hardening for unprivileged loaders).
        String capabilities =
            e.errno() == 1 || e.errno() == 13
                ? " (loading it needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)"
                : "";
        throw new LinuxException(
            "bpf(BPF_PROG_LOAD " + what + ")",
            "errno " + e.errno() + capabilities + "; verifier: " + verifier.substring(from));
      }
    }
  }

  /**
   * Attaches {@code prog} to the ingress of device {@code ifindex} with a tcx link
   * (BPF_LINK_CREATE: prog_fd, target_ifindex, attach_type); returns the link's descriptor, whose
   * last reference detaches it.
   */
  static int attachTcxIngress(int prog, int ifindex, String device) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment attr = arena.allocate(64, 8);
      attr.set(JAVA_INT, 0, prog);
      attr.set(JAVA_INT, 4, ifindex);
      attr.set(JAVA_INT, 8, BPF_TCX_INGRESS);
      return Bpf.call(Bpf.LINK_CREATE, attr, "bpf(BPF_LINK_CREATE tcx ingress " + device + ")");
    }
  }

  /**
   * One {@code BPF_PROG_TEST_RUN}: the program's verdict, the packet as it left it, and the
   * kernel's mean time per run in nanoseconds (its own clock around the runs).
   */
  record TestRun(int verdict, byte[] packet, long nsPerRun) {}

  /**
   * Runs {@code prog} {@code repeat} times on a copy of {@code packet} (an Ethernet frame) in a
   * kernel-made skb, without a device: redirects are decided, not carried out. Note that the runs
   * share one skb, so a program that changes the packet sees its own output from the second run on.
   */
  static TestRun testRun(int prog, byte[] packet, int repeat) throws LinuxException {
    try (Arena arena = Arena.ofConfined()) {
      int capacity = packet.length + 512;
      MemorySegment in = arena.allocate(packet.length, 8);
      MemorySegment.copy(packet, 0, in, JAVA_BYTE, 0, packet.length);
      MemorySegment out = arena.allocate(capacity, 8);
      // test: prog_fd, retval, data_size_in, data_size_out, data_in, data_out, repeat, duration
      MemorySegment attr = arena.allocate(80, 8);
      attr.set(JAVA_INT, 0, prog);
      attr.set(JAVA_INT, 8, packet.length);
      attr.set(JAVA_INT, 12, capacity);
      attr.set(JAVA_LONG, 16, in.address());
      attr.set(JAVA_LONG, 24, out.address());
      attr.set(JAVA_INT, 32, repeat);
      Bpf.call(BPF_PROG_TEST_RUN, attr, "bpf(BPF_PROG_TEST_RUN)");
      int size = attr.get(JAVA_INT, 12);
      byte[] result = new byte[size];
      MemorySegment.copy(out, JAVA_BYTE, 0, result, 0, size);
      return new TestRun(
          attr.get(JAVA_INT, 4), result, Integer.toUnsignedLong(attr.get(JAVA_INT, 36)));
    }
  }
}
