package io.baton.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * Forwarding by a BPF map, in the kernel, before the IP stack: a tc program attached to a device's
 * ingress (tcx) looks up each IPv4 TCP packet's 4-tuple in a {@link BpfHashMap} (keys as {@link
 * NfSetElements#fourTupleKey} lays them out, values a server's IPv4 address) and redirects a packet
 * that has an entry, unchanged, to that server through the fabric device ({@code
 * bpf_redirect_neigh}: the kernel fills in the next hop's MAC, as nftables' {@code fwd ip to}
 * does). A SYN without ACK is never forwarded; everything else without an entry goes on to the
 * stack. A prototype of the dispatcher's forwarding table on BPF (issue 8): an entry costs one
 * {@code bpf(2)} call instead of an nf_tables transaction.
 *
 * <p>The program is hand-assembled eBPF (no compiler needed on the host) and checked by the
 * kernel's verifier at load. Detached when closed. Not thread-safe.
 */
public final class TcForwarder implements AutoCloseable {
  private static final int BPF_PROG_TYPE_SCHED_CLS = 3;
  private static final int BPF_TCX_INGRESS = 46;
  private static final int LOG_BYTES = 1 << 16;

  private final int progFd;
  private final int linkFd;
  private boolean closed;

  private TcForwarder(int progFd, int linkFd) {
    this.progFd = progFd;
    this.linkFd = linkFd;
  }

  /**
   * Loads the program for {@code map} (16-byte 4-tuple keys, 4-byte IPv4 values) redirecting
   * through {@code fabricDevice}, and attaches it to {@code frontDevice}'s ingress; both devices in
   * the calling thread's namespace.
   */
  public static TcForwarder attach(BpfHashMap map, String frontDevice, String fabricDevice)
      throws LinuxException {
    int fabric = Addresses.linkIndex(fabricDevice);
    int front = Addresses.linkIndex(frontDevice);
    int prog = load(program(map.fd(), fabric));
    try (Arena arena = Arena.ofConfined()) {
      // BPF_LINK_CREATE: prog_fd, target_ifindex, attach_type, flags (tcx: then relative fd,
      // revision)
      MemorySegment attr = arena.allocate(64, 8);
      attr.set(JAVA_INT, 0, prog);
      attr.set(JAVA_INT, 4, front);
      attr.set(JAVA_INT, 8, BPF_TCX_INGRESS);
      int link =
          Bpf.call(Bpf.LINK_CREATE, attr, "bpf(BPF_LINK_CREATE tcx ingress " + frontDevice + ")");
      return new TcForwarder(prog, link);
    } catch (LinuxException | RuntimeException e) {
      Sockets.closeQuietly(prog);
      throw e;
    }
  }

  /**
   * Pins the attachment (the tcx link) at {@code path} on a bpf file system: the program stays
   * attached, with its map, after {@link #close} and after this process is gone, as the
   * dispatcher's nftables table does today. {@link #detachPinned} ends it.
   */
  public void pin(java.nio.file.Path path) throws LinuxException {
    if (closed) throw new IllegalStateException("closed");
    Bpf.pin(linkFd, path);
  }

  /**
   * Removes the attachment pinned at {@code path}: the link's last reference goes with the pin
   * (once no process holds a descriptor of it), and the program is detached.
   */
  public static void detachPinned(java.nio.file.Path path) throws LinuxException {
    try {
      java.nio.file.Files.delete(path);
    } catch (java.io.IOException e) {
      throw new LinuxException("unlink(" + path + ")", e.toString());
    }
  }

  /** Releases this process's descriptors; unless pinned, that detaches the program. */
  @Override
  public void close() throws LinuxException {
    if (closed) return;
    closed = true;
    try {
      Sockets.close(linkFd);
    } finally {
      Sockets.close(progFd);
    }
  }

  private static int load(byte[] insns) throws LinuxException {
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
        return Bpf.call(Bpf.PROG_LOAD, attr, "bpf(BPF_PROG_LOAD tc forwarder)");
      } catch (LinuxException e) {
        String verifier = log.getString(0, StandardCharsets.US_ASCII).strip();
        int from = Math.max(0, verifier.length() - 800);
        throw new LinuxException(
            "bpf(BPF_PROG_LOAD tc forwarder)",
            "errno " + e.errno() + "; verifier: " + verifier.substring(from));
      }
    }
  }

  // ---- the program ---------------------------------------------------------------------------

  private static final int R0 = 0,
      R1 = 1,
      R2 = 2,
      R3 = 3,
      R4 = 4,
      R5 = 5,
      R6 = 6,
      R7 = 7,
      R8 = 8,
      R10 = 10;

  /** The eBPF instructions; {@code mapFd} and {@code fabricIndex} are baked in. */
  static byte[] program(int mapFd, int fabricIndex) {
    Asm a = new Asm();
    // r2 = skb->data, r3 = skb->data_end (struct __sk_buff offsets 76 and 80)
    a.ldx(4, R2, R1, 76);
    a.ldx(4, R3, R1, 80);
    // Ethernet (14) + IPv4 without options (20) present?
    a.movReg(R4, R2);
    a.addImm(R4, 34);
    a.jgtReg(R4, R3, "pass");
    // EtherType IPv4: the u16 at 12 read as little-endian is 0x0008
    a.ldx(2, R5, R2, 12);
    a.jneImm(R5, 0x0008, "pass");
    // IPv4 header length in bytes: (byte 14 & 0x0f) * 4
    a.ldx(1, R5, R2, 14);
    a.andImm(R5, 0x0f);
    a.lshImm(R5, 2);
    // protocol TCP
    a.ldx(1, R7, R2, 23);
    a.jneImm(R7, 6, "pass");
    // not a later fragment: fragment offset (13 bits at 20) is 0; little-endian mask of
    // htons(0x1fff)
    a.ldx(2, R7, R2, 20);
    a.andImm(R7, 0xff1f);
    a.jneImm(R7, 0, "pass");
    // r4 = TCP header; its first 20 bytes present?
    a.movReg(R4, R2);
    a.addReg(R4, R5);
    a.addImm(R4, 14);
    a.movReg(R8, R4);
    a.addImm(R8, 20);
    a.jgtReg(R8, R3, "pass");
    // a SYN without ACK opens a connection: always the local stack's
    a.ldx(1, R7, R4, 13);
    a.andImm(R7, 0x12);
    a.jeqImm(R7, 0x02, "pass");
    // key at fp-16: saddr, sport + 2 zero bytes, daddr, dport + 2 zero bytes (nft's register
    // layout)
    a.ldx(4, R7, R2, 26);
    a.stx(4, R10, -16, R7);
    a.ldx(2, R7, R4, 0);
    a.stx(4, R10, -12, R7);
    a.ldx(4, R7, R2, 30);
    a.stx(4, R10, -8, R7);
    a.ldx(2, R7, R4, 2);
    a.stx(4, R10, -4, R7);
    // r0 = bpf_map_lookup_elem(map, fp-16)
    a.ldMapFd(R1, mapFd);
    a.movReg(R2, R10);
    a.addImm(R2, -16);
    a.call(1);
    a.jeqImm(R0, 0, "pass");
    // struct bpf_redir_neigh at fp-40: nh_family AF_INET, ipv4_nh = the server, the rest zero
    a.ldx(4, R7, R0, 0);
    a.stImm(4, R10, -40, 2);
    a.stx(4, R10, -36, R7);
    a.stImm(8, R10, -32, 0);
    a.stImm(4, R10, -24, 0);
    // return bpf_redirect_neigh(fabric, &nh, 20, 0)
    a.movImm(R1, fabricIndex);
    a.movReg(R2, R10);
    a.addImm(R2, -40);
    a.movImm(R3, 20);
    a.movImm(R4, 0);
    a.call(152);
    a.exit();
    a.label("pass");
    a.movImm(R0, -1); // TCX_NEXT: on to the next program or the stack
    a.exit();
    return a.bytes();
  }

  /** A tiny eBPF assembler: 8-byte instructions, forward jumps to labels. */
  private static final class Asm {
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    private final java.util.Map<String, Integer> labels = new java.util.HashMap<>();

    /** A jump at instruction {@code at} whose offset is {@code label}'s position, once known. */
    private record Fixup(int at, String label) {}

    private final java.util.List<Fixup> fixups = new java.util.ArrayList<>();
    private int count;

    private void insn(int code, int dst, int src, int off, int imm) {
      out.write(code);
      out.write((src << 4) | dst);
      out.write(off & 0xff);
      out.write((off >> 8) & 0xff);
      out.write(imm & 0xff);
      out.write((imm >> 8) & 0xff);
      out.write((imm >> 16) & 0xff);
      out.write((imm >> 24) & 0xff);
      count++;
    }

    private static int size(int bytes) {
      return switch (bytes) {
        case 1 -> 0x10; // BPF_B
        case 2 -> 0x08; // BPF_H
        case 4 -> 0x00; // BPF_W
        case 8 -> 0x18; // BPF_DW
        default -> throw new IllegalArgumentException("size " + bytes);
      };
    }

    void ldx(int bytes, int dst, int src, int off) {
      insn(0x61 | size(bytes), dst, src, off, 0);
    }

    void stx(int bytes, int dst, int off, int src) {
      insn(0x63 | size(bytes), dst, src, off, 0);
    }

    void stImm(int bytes, int dst, int off, int imm) {
      insn(0x62 | size(bytes), dst, 0, off, imm);
    }

    void movReg(int dst, int src) {
      insn(0xbf, dst, src, 0, 0);
    }

    void movImm(int dst, int imm) {
      insn(0xb7, dst, 0, 0, imm);
    }

    void addImm(int dst, int imm) {
      insn(0x07, dst, 0, 0, imm);
    }

    void addReg(int dst, int src) {
      insn(0x0f, dst, src, 0, 0);
    }

    void andImm(int dst, int imm) {
      insn(0x57, dst, 0, 0, imm);
    }

    void lshImm(int dst, int imm) {
      insn(0x67, dst, 0, 0, imm);
    }

    void call(int helper) {
      insn(0x85, 0, 0, 0, helper);
    }

    void exit() {
      insn(0x95, 0, 0, 0, 0);
    }

    void ldMapFd(int dst, int fd) {
      insn(0x18, dst, 1, 0, fd); // BPF_LD | BPF_IMM | BPF_DW, src = BPF_PSEUDO_MAP_FD
      insn(0x00, 0, 0, 0, 0);
    }

    void jgtReg(int dst, int src, String label) {
      jump(0x2d, dst, src, 0, label);
    }

    void jneImm(int dst, int imm, String label) {
      jump(0x55, dst, 0, imm, label);
    }

    void jeqImm(int dst, int imm, String label) {
      jump(0x15, dst, 0, imm, label);
    }

    private void jump(int code, int dst, int src, int imm, String label) {
      fixups.add(new Fixup(count, label));
      insn(code, dst, src, 0, imm);
    }

    void label(String name) {
      labels.put(name, count);
    }

    byte[] bytes() {
      byte[] b = out.toByteArray();
      for (Fixup f : fixups) {
        Integer target = labels.get(f.label());
        if (target == null) throw new IllegalStateException("no label " + f.label());
        int off = target - f.at() - 1;
        b[f.at() * 8 + 2] = (byte) off;
        b[f.at() * 8 + 3] = (byte) (off >> 8);
      }
      return b;
    }
  }
}
