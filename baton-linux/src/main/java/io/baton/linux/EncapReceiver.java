package io.baton.linux;

import static io.baton.linux.BpfAsm.R0;
import static io.baton.linux.BpfAsm.R1;
import static io.baton.linux.BpfAsm.R2;
import static io.baton.linux.BpfAsm.R3;
import static io.baton.linux.BpfAsm.R4;
import static io.baton.linux.BpfAsm.R5;
import static io.baton.linux.BpfAsm.R6;
import static io.baton.linux.BpfAsm.R7;
import static io.baton.linux.BpfAsm.R8;
import static io.baton.linux.BpfAsm.R9;

/**
 * The server's side of encapsulated forwarding ({@link FlowForwarder}): a tc program on the
 * server's fabric device ingress (tcx) takes every IPv4 UDP datagram to the encapsulation port,
 * checks its {@link EncapHeader} (version, length, the farm check baked in at load) and that the
 * inner packet is IPv4 of the header's protocol whose addresses and ports are the header's
 * reference, then strips outer IPv4, UDP and the header ({@code bpf_skb_adjust_room}, shrinking at
 * the MAC header) and lets the inner packet go on to the stack as if the client had sent it here
 * (the VIP is on the server's lo; reverse-path filtering must be off or loose on the fabric). A
 * datagram that fails a check is dropped and counted by reason; it never reaches a socket, so the
 * encapsulation port cannot be used to inject packets without the farm check. Everything else
 * (other ports, other protocols, IP fragments, which a DF-marked encapsulation never is) passes
 * untouched.
 *
 * <p>Version 2 headers ({@link EncapHeader6}) carry an IPv6 client's packet in the same outer IPv4
 * + UDP: the inner packet must be IPv6 with the header's protocol as its next header (no extension
 * header; the forwarder never wraps one), the header's addresses and ports, and the reserved word
 * zero. Stripping it uses {@code bpf_skb_adjust_room} with {@code BPF_F_ADJ_ROOM_DECAP_L3_IPV6},
 * which sets the packet's protocol to IPv6 (kernel 6.3 on; no {@code bpf_skb_change_proto} needed),
 * and the program rewrites the frame's EtherType to 0x86DD. The server's VIP is then an IPv6
 * address on its lo.
 *
 * <p>Hand-assembled, verified at load, detached and its counters freed when closed. Not
 * thread-safe.
 */
public final class EncapReceiver implements AutoCloseable {
  private static final int COUNTERS = 5;
  private static final int DECAPSULATED = 0,
      MALFORMED = 1,
      BAD_VERSION = 2,
      BAD_CHECK = 3,
      BAD_REFERENCE = 4;

  // bpf_skb_adjust_room: BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1 << 7) and _IPV6
  // (1 << 8) (uapi bpf.h 6.3+; the machine's /usr/include/linux/bpf.h is older)
  private static final int ADJ_ROOM_MAC = 1;
  private static final int DECAP_FLAGS = 1 << 7;
  private static final int DECAP6_FLAGS = 1 << 8;

  /** Bytes the checks need in the linear part of a packet, at most; pulled in if missing. */
  private static final int MOST_HEADERS =
      14 + 60 + 8 + Math.max(EncapHeader.LENGTH + 60, EncapHeader6.LENGTH + 40) + 8;

  /**
   * Datagrams decapsulated and passed on (both versions); dropped because short or not a
   * well-formed header and inner packet (IPv4 for version 1, IPv6 for 2); of another header version
   * than 1 or 2; without the farm check; whose inner packet is not the one the header names.
   */
  public record Counters(
      long decapsulated, long malformed, long badVersion, long badCheck, long badReference) {}

  private final BpfCounters counters;
  private final int progFd;
  private final int linkFd;
  private boolean closed;

  private EncapReceiver(BpfCounters counters, int progFd, int linkFd) {
    this.counters = counters;
    this.progFd = progFd;
    this.linkFd = linkFd;
  }

  /**
   * Loads the program for UDP port {@code port} and {@code farmCheck}, and attaches it to {@code
   * fabricDevice}'s ingress in the calling thread's network namespace.
   */
  public static EncapReceiver attach(String fabricDevice, int port, long farmCheck)
      throws LinuxException {
    return load(port, farmCheck, Addresses.linkIndex(fabricDevice), fabricDevice);
  }

  /**
   * Loaded; attached to the ingress of device {@code ifindex} (named {@code device} in errors)
   * unless it is 0 (for {@link #testRun}).
   */
  static EncapReceiver load(int port, long farmCheck, int ifindex, String device)
      throws LinuxException {
    if (port < 1 || port > 0xffff) throw new IllegalArgumentException("port " + port);
    BpfCounters counters = BpfCounters.create(COUNTERS);
    int prog = -1;
    try {
      prog = BpfProgram.load(program(counters.fd(), port, farmCheck), "encap receiver");
      int link = ifindex == 0 ? -1 : BpfProgram.attachTcxIngress(prog, ifindex, device);
      return new EncapReceiver(counters, prog, link);
    } catch (LinuxException | RuntimeException e) {
      if (prog >= 0) Sockets.closeQuietly(prog);
      counters.close();
      throw e;
    }
  }

  /** The program's counters now. */
  public Counters counters() throws LinuxException {
    return new Counters(
        counters.get(DECAPSULATED),
        counters.get(MALFORMED),
        counters.get(BAD_VERSION),
        counters.get(BAD_CHECK),
        counters.get(BAD_REFERENCE));
  }

  /** Runs the program on {@code packet} with {@code BPF_PROG_TEST_RUN} (tests, timing). */
  BpfProgram.TestRun testRun(byte[] packet, int repeat) throws LinuxException {
    return BpfProgram.testRun(progFd, packet, repeat);
  }

  /** Detaches the program and frees its counters. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (linkFd >= 0) Sockets.closeQuietly(linkFd);
    Sockets.closeQuietly(progFd);
    try {
      counters.close();
    } catch (LinuxException e) {
      // a descriptor that would not close is gone anyway
    }
  }

  // ---- the program ---------------------------------------------------------------------------

  /**
   * The eBPF instructions. Registers: r6 the skb, r7 the outer IPv4 header length, r9 whether the
   * headers were pulled into the linear part already (once; then a short packet is malformed), r5
   * the Baton header, r4 the inner packet.
   */
  static byte[] program(int countersFd, int port, long farmCheck) {
    BpfAsm a = new BpfAsm();
    a.movReg(R6, R1);
    a.movImm(R9, 0);
    a.label("start");
    a.ldx(4, R2, R6, 76);
    a.ldx(4, R3, R6, 80);
    a.movReg(R4, R2);
    a.addImm(R4, 34);
    a.jgtReg(R4, R3, "pass");
    a.ldx(2, R5, R2, 12);
    a.jneImm(R5, BpfAsm.wire16(0x0800), "pass");
    a.ldx(1, R5, R2, 23);
    a.jneImm(R5, EncapHeader.UDP, "pass");
    // any fragment (MF or an offset) passes: an encapsulation is sent with DF
    a.ldx(2, R5, R2, 20);
    a.andImm(R5, BpfAsm.wire16(0x3fff));
    a.jneImm(R5, 0, "pass");
    a.ldx(1, R7, R2, 14);
    a.andImm(R7, 0x0f);
    a.lshImm(R7, 2);
    a.jltImm(R7, 20, "pass");
    // r4 = outer UDP header; to the encapsulation port?
    a.movReg(R4, R2);
    a.addReg(R4, R7);
    a.addImm(R4, 14);
    a.movReg(R0, R4);
    a.addImm(R0, 8);
    a.jgtReg(R0, R3, "pass");
    a.ldx(2, R0, R4, 2);
    a.jneImm(R0, BpfAsm.wire16(port), "pass");
    // ours from here on: r5 = the Baton header; its version picks the inner packet's family
    a.movReg(R5, R4);
    a.addImm(R5, 8);
    a.movReg(R0, R5);
    a.addImm(R0, 4);
    a.jgtReg(R0, R3, "short");
    a.ldx(1, R0, R5, 0);
    a.jeqImm(R0, EncapHeader6.VERSION, "v2");
    a.jneImm(R0, EncapHeader.VERSION, "badVersion");
    // version 1: followed by at least an inner IPv4 header
    a.movReg(R0, R5);
    a.addImm(R0, EncapHeader.LENGTH + 20);
    a.jgtReg(R0, R3, "short");
    a.ldx(2, R0, R5, 2);
    a.jneImm(R0, BpfAsm.wire16(EncapHeader.LENGTH), "malformed");
    emitFarmCheck(a, farmCheck);
    // r4 = the inner IPv4 header: version 4, length r0 of at least 20
    a.movReg(R4, R5);
    a.addImm(R4, EncapHeader.LENGTH);
    a.ldx(1, R0, R4, 0);
    a.movReg(R1, R0);
    a.rshImm(R1, 4);
    a.jneImm(R1, 4, "malformed");
    a.andImm(R0, 0x0f);
    a.lshImm(R0, 2);
    a.jltImm(R0, 20, "malformed");
    // the inner protocol, source and destination are the header's
    a.ldx(1, R1, R4, 9);
    a.ldx(1, R8, R5, 1);
    a.jneReg(R1, R8, "badReference");
    a.ldx(4, R1, R4, 12);
    a.ldx(4, R8, R5, 16);
    a.jneReg(R1, R8, "badReference");
    a.ldx(4, R1, R4, 16);
    a.ldx(4, R8, R5, 24);
    a.jneReg(R1, R8, "badReference");
    // and so are its ports
    a.addReg(R4, R0);
    a.movReg(R1, R4);
    a.addImm(R1, 4);
    a.jgtReg(R1, R3, "short");
    a.ldx(2, R1, R4, 0);
    a.ldx(2, R8, R5, 20);
    a.jneReg(R1, R8, "badReference");
    a.ldx(2, R1, R4, 2);
    a.ldx(2, R8, R5, 22);
    a.jneReg(R1, R8, "badReference");
    // bpf_skb_adjust_room(skb, -(outer IP + 8 + 28), BPF_ADJ_ROOM_MAC, DECAP_L3_IPV4)
    a.movReg(R2, R7);
    a.addImm(R2, 8 + EncapHeader.LENGTH);
    a.neg(R2);
    a.movReg(R1, R6);
    a.movImm(R3, ADJ_ROOM_MAC);
    a.movImm(R4, DECAP_FLAGS);
    a.call(50);
    a.jneImm(R0, 0, "malformed");
    BpfCounters.emitIncrement(a, countersFd, DECAPSULATED);
    a.movImm(R0, BpfProgram.TCX_PASS);
    a.exit();

    emitVersion2(a, countersFd, farmCheck);

    // headers not all in the linear part: pull them in once (bpf_skb_pull_data), start again
    a.label("short");
    a.jneImm(R9, 0, "malformed");
    a.movImm(R9, 1);
    a.ldx(4, R2, R6, 0); // skb->len
    a.jltImm(R2, MOST_HEADERS, "pull");
    a.movImm(R2, MOST_HEADERS);
    a.label("pull");
    a.movReg(R1, R6);
    a.call(39);
    a.jneImm(R0, 0, "malformed");
    a.ja("start");

    drop(a, countersFd, "malformed", MALFORMED);
    drop(a, countersFd, "badVersion", BAD_VERSION);
    drop(a, countersFd, "badCheck", BAD_CHECK);
    drop(a, countersFd, "badReference", BAD_REFERENCE);
    a.label("pass");
    a.movImm(R0, BpfProgram.TCX_NEXT);
    a.exit();
    return a.bytes();
  }

  /**
   * The version 2 path, from label {@code v2} (r3 data_end, r5 the header, r6 the skb, r7 the outer
   * IPv4 header length): the header (length 56, reserved word zero, farm check), then the inner
   * IPv6 packet against its reference, then the strip with DECAP_L3_IPV6 and the EtherType rewrite.
   */
  private static void emitVersion2(BpfAsm a, int countersFd, long farmCheck) {
    a.label("v2");
    // the header, the fixed IPv6 header and the inner ports present
    a.movReg(R0, R5);
    a.addImm(R0, EncapHeader6.LENGTH + 40 + 4);
    a.jgtReg(R0, R3, "short");
    a.ldx(2, R0, R5, 2);
    a.jneImm(R0, BpfAsm.wire16(EncapHeader6.LENGTH), "malformed");
    a.ldx(4, R0, R5, 36);
    a.jneImm(R0, 0, "malformed");
    emitFarmCheck(a, farmCheck);
    // r4 = the inner IPv6 header: version 6
    a.movReg(R4, R5);
    a.addImm(R4, EncapHeader6.LENGTH);
    a.ldx(1, R0, R4, 0);
    a.rshImm(R0, 4);
    a.jneImm(R0, 6, "malformed");
    // next header (no extension header), source, destination and ports are the header's
    a.ldx(1, R1, R4, 6);
    a.ldx(1, R8, R5, 1);
    a.jneReg(R1, R8, "badReference");
    int[][] same = {{8, 16}, {16, 24}, {24, 40}, {32, 48}}; // inner offset, header offset
    for (int[] pair : same) {
      a.ldx(8, R1, R4, pair[0]);
      a.ldx(8, R8, R5, pair[1]);
      a.jneReg(R1, R8, "badReference");
    }
    a.ldx(4, R1, R4, 40); // both ports
    a.ldx(4, R8, R5, 32);
    a.jneReg(R1, R8, "badReference");
    // bpf_skb_adjust_room(skb, -(outer IP + 8 + 56), BPF_ADJ_ROOM_MAC, DECAP_L3_IPV6)
    a.movReg(R2, R7);
    a.addImm(R2, 8 + EncapHeader6.LENGTH);
    a.neg(R2);
    a.movReg(R1, R6);
    a.movImm(R3, ADJ_ROOM_MAC);
    a.movImm(R4, DECAP6_FLAGS);
    a.call(50);
    a.jneImm(R0, 0, "malformed");
    // the frame is IPv6 now: its EtherType too (the kernel set skb->protocol)
    a.ldx(4, R2, R6, 76);
    a.ldx(4, R3, R6, 80);
    a.movReg(R4, R2);
    a.addImm(R4, 14);
    a.jgtReg(R4, R3, "malformed");
    a.stImm(2, R2, 12, BpfAsm.wire16(0x86dd));
    BpfCounters.emitIncrement(a, countersFd, DECAPSULATED);
    a.movImm(R0, BpfProgram.TCX_PASS);
    a.exit();
  }

  /** The header at r5 carries {@code farmCheck} at offset 8, or on to {@code badCheck}. */
  private static void emitFarmCheck(BpfAsm a, long farmCheck) {
    a.ldx(4, R0, R5, 8);
    a.jne32Imm(R0, BpfAsm.wire32((int) (farmCheck >>> 32)), "badCheck");
    a.ldx(4, R0, R5, 12);
    a.jne32Imm(R0, BpfAsm.wire32((int) farmCheck), "badCheck");
  }

  private static void drop(BpfAsm a, int countersFd, String label, int counter) {
    a.label(label);
    BpfCounters.emitIncrement(a, countersFd, counter);
    a.movImm(R0, BpfProgram.TCX_DROP);
    a.exit();
  }
}
