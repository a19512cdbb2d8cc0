package io.baton.linux;

import static io.baton.linux.BpfAsm.R0;
import static io.baton.linux.BpfAsm.R1;
import static io.baton.linux.BpfAsm.R10;
import static io.baton.linux.BpfAsm.R2;
import static io.baton.linux.BpfAsm.R3;
import static io.baton.linux.BpfAsm.R4;
import static io.baton.linux.BpfAsm.R5;
import static io.baton.linux.BpfAsm.R7;
import static io.baton.linux.BpfAsm.R8;

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
    int prog = BpfProgram.load(program(map.fd(), fabric), "tc forwarder");
    try {
      return new TcForwarder(prog, BpfProgram.attachTcxIngress(prog, front, frontDevice));
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

  // ---- the program ---------------------------------------------------------------------------

  /** The eBPF instructions; {@code mapFd} and {@code fabricIndex} are baked in. */
  static byte[] program(int mapFd, int fabricIndex) {
    BpfAsm a = new BpfAsm();
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
}
