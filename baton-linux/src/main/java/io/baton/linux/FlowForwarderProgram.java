package io.baton.linux;

import static io.baton.linux.BpfAsm.R0;
import static io.baton.linux.BpfAsm.R1;
import static io.baton.linux.BpfAsm.R10;
import static io.baton.linux.BpfAsm.R2;
import static io.baton.linux.BpfAsm.R3;
import static io.baton.linux.BpfAsm.R4;
import static io.baton.linux.BpfAsm.R5;
import static io.baton.linux.BpfAsm.R6;
import static io.baton.linux.BpfAsm.R7;
import static io.baton.linux.BpfAsm.R8;
import static io.baton.linux.BpfAsm.R9;
import static io.baton.linux.FlowForwarder.CLOSING;
import static io.baton.linux.FlowForwarder.ENCAP;
import static io.baton.linux.FlowForwarder.OVERHEAD;
import static io.baton.linux.FlowForwarder.OVERHEAD6;
import static io.baton.linux.FlowForwarder.TCP;
import static io.baton.linux.FlowForwarder.UDP;

import java.nio.ByteBuffer;

/**
 * The instructions of {@link FlowForwarder}'s tc program (its behaviour is described there), and
 * the indices of its counters: IPv4 and IPv6 parsing, the lookups in the two flow maps, direct
 * redirects, and the encapsulations with a version 1 ({@link EncapHeader}) or version 2 ({@link
 * EncapHeader6}) header. Stateless.
 */
final class FlowForwarderProgram {
  static final int COUNTERS = 5;
  static final int FORWARDED = 0,
      ENCAPSULATED = 1,
      ENCAP_FAILED = 2,
      CLOSING_DELETED = 3,
      EXTENSION_PASSED = 4;

  /**
   * IPv6 next-header values that are extension headers (RFC 7045's list: hop-by-hop, routing,
   * fragment, ESP, AH, destination options, mobility, HIP, shim6, the two experimental ones).
   */
  private static final int[] EXTENSION_HEADERS = {0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254};

  // bpf_skb_adjust_room: BPF_ADJ_ROOM_MAC; ENCAP_L3_IPV4 | ENCAP_L4_UDP | ENCAP_L2(header length)
  // (uapi bpf.h; the outer L3 is IPv4 for either inner protocol: for an IPv6 packet the kernel
  // sets skb->protocol to IPv4 itself, bpf_skb_net_grow in net/core/filter.c)
  private static final int ADJ_ROOM_MAC = 1;
  private static final long ENCAP_FLAGS = encapFlags(EncapHeader.LENGTH);
  private static final long ENCAP6_FLAGS = encapFlags(EncapHeader6.LENGTH);

  private static long encapFlags(int headerLength) {
    return (1L << 1) | (1L << 4) | ((long) headerLength << 56);
  }

  private FlowForwarderProgram() {}

  /**
   * The eBPF instructions, settings baked in. IPv4 registers: r6 the skb, r7 the map value, r8 the
   * protocol (then the outer IP length), r9 the TCP flags {@code & (SYN|ACK)} (0 for UDP). IPv4
   * stack: the key at fp-16, a counter index at fp-24 ({@link BpfCounters#emitIncrement}),
   * bpf_check_mtu's length at fp-28, a {@code bpf_redir_neigh} at fp-48. IPv6 ({@link #emitIpv6}):
   * the same registers; the key at fp-64, bpf_check_mtu's length at fp-20, a {@code
   * bpf_redir_neigh} at fp-88.
   */
  static byte[] program(
      int mapFd, int map6Fd, int countersFd, int fabricIndex, FlowForwarder.Encap encap) {
    BpfAsm a = new BpfAsm();
    a.movReg(R6, R1);
    // r2 = skb->data, r3 = skb->data_end (struct __sk_buff offsets 76 and 80)
    a.ldx(4, R2, R6, 76);
    a.ldx(4, R3, R6, 80);
    // Ethernet (14) + IPv4 without options (20) present?
    a.movReg(R4, R2);
    a.addImm(R4, 34);
    a.jgtReg(R4, R3, "pass");
    // EtherType IPv4: the u16 at 12 read as little-endian is 0x0008; IPv6 on its own path
    a.ldx(2, R5, R2, 12);
    a.jeqImm(R5, BpfAsm.wire16(0x86dd), "ipv6");
    a.jneImm(R5, BpfAsm.wire16(0x0800), "pass");
    // IPv4 header length in bytes: (byte 14 & 0x0f) * 4, at least 20
    a.ldx(1, R5, R2, 14);
    a.andImm(R5, 0x0f);
    a.lshImm(R5, 2);
    a.jltImm(R5, 20, "pass");
    // not a later fragment: fragment offset (13 bits at 20) is 0
    a.ldx(2, R7, R2, 20);
    a.andImm(R7, BpfAsm.wire16(0x1fff));
    a.jneImm(R7, 0, "pass");
    // protocol TCP or UDP
    a.ldx(1, R8, R2, 23);
    a.movImm(R9, 0);
    a.jeqImm(R8, TCP, "l4");
    a.jneImm(R8, UDP, "pass");
    a.label("l4");
    // r4 = L4 header; its ports (and a UDP header) present?
    a.movReg(R4, R2);
    a.addReg(R4, R5);
    a.addImm(R4, 14);
    a.movReg(R0, R4);
    a.addImm(R0, 8);
    a.jgtReg(R0, R3, "pass");
    a.jneImm(R8, TCP, "key");
    // TCP: the flags byte (13) present; r9 = flags & (SYN|ACK)
    a.movReg(R0, R4);
    a.addImm(R0, 14);
    a.jgtReg(R0, R3, "pass");
    a.ldx(1, R9, R4, 13);
    a.andImm(R9, 0x12);
    a.label("key");
    // key at fp-16: saddr, sport, protocol, 0, daddr, dport, 0 0
    a.ldx(4, R0, R2, 26);
    a.stx(4, R10, -16, R0);
    a.ldx(2, R0, R4, 0);
    a.stx(2, R10, -12, R0);
    a.stx(1, R10, -10, R8);
    a.stImm(1, R10, -9, 0);
    a.ldx(4, R0, R2, 30);
    a.stx(4, R10, -8, R0);
    a.ldx(2, R0, R4, 2);
    a.stx(4, R10, -4, R0); // dport and two zero bytes
    // r7 = bpf_map_lookup_elem(flows, fp-16); a SYN's rules
    emitLookup(a, mapFd, countersFd, -16, 4, "forward");

    a.label("forward");
    a.call(5); // bpf_ktime_get_ns
    a.stx(8, R7, 16, R0);
    a.ldx(4, R1, R7, 4);
    a.jsetImm(R1, ENCAP, "encap");
    BpfCounters.emitIncrement(a, countersFd, FORWARDED);
    // struct bpf_redir_neigh at fp-48: nh_family AF_INET, ipv4_nh = the server, the rest zero
    a.ldx(4, R1, R7, 0);
    a.stImm(4, R10, -48, 2);
    a.stx(4, R10, -44, R1);
    a.stImm(8, R10, -40, 0);
    a.stImm(4, R10, -32, 0);
    emitRedirectNeigh(a, fabricIndex, -48);

    a.label("encap");
    // Too long for the fabric once wrapped? bpf_check_mtu(skb, fabric, &mtu at fp-28, 56, 0) (a
    // GSO packet passes: its segments are checked, and adjust_room lowers their size). At tc
    // ingress adjust_room itself does not check, and the fabric device would drop it unseen.
    // bpf_skb_adjust_room(skb, 56, BPF_ADJ_ROOM_MAC, ENCAP_L3_IPV4 | ENCAP_L4_UDP | ENCAP_L2(28))
    emitGrow(a, fabricIndex, -28, OVERHEAD, ENCAP_FLAGS);
    emitOuter(a, encap, -12);
    // Baton header at 42: version, protocol, length, connection id, farm check, the reference
    a.stImm(1, R2, 42, EncapHeader.VERSION);
    a.ldx(1, R1, R10, -10);
    a.stx(1, R2, 43, R1);
    a.stImm(2, R2, 44, BpfAsm.wire16(EncapHeader.LENGTH));
    a.ldx(4, R1, R7, 8);
    a.be32(R1);
    a.stx(4, R2, 46, R1);
    a.stImm(4, R2, 50, BpfAsm.wire32((int) (encap.farmCheck() >>> 32)));
    a.stImm(4, R2, 54, BpfAsm.wire32((int) encap.farmCheck()));
    a.ldx(4, R1, R10, -16);
    a.stx(4, R2, 58, R1);
    a.ldx(2, R1, R10, -12);
    a.stx(2, R2, 62, R1);
    a.ldx(2, R1, R10, -4);
    a.stx(2, R2, 64, R1);
    a.ldx(4, R1, R10, -8);
    a.stx(4, R2, 66, R1);
    emitEncapsulated(a, countersFd, fabricIndex);

    emitIpv6(a, map6Fd, countersFd, fabricIndex, encap);

    a.label("failed");
    BpfCounters.emitIncrement(a, countersFd, ENCAP_FAILED);
    a.movImm(R0, BpfProgram.TCX_DROP);
    a.exit();

    a.label("pass");
    a.movImm(R0, BpfProgram.TCX_NEXT);
    a.exit();
    return a.bytes();
  }

  /**
   * The IPv6 path, from label {@code ipv6} (r2 data, r3 data_end, r6 the skb): the fixed header,
   * TCP or UDP right after it, the key at fp-64 ({@code saddr} fp-64, {@code sport} fp-48, protocol
   * fp-46, {@code daddr} fp-44, {@code dport} fp-28), the lookup in the IPv6 map (value: server 16
   * bytes, flags at 16, connection id at 20, last seen at 24), a direct redirect to an IPv6 next
   * hop, or an encapsulation in IPv4 + UDP + a version 2 header.
   */
  private static void emitIpv6(
      BpfAsm a, int map6Fd, int countersFd, int fabricIndex, FlowForwarder.Encap encap) {
    a.label("ipv6");
    // Ethernet + the fixed 40-byte header present; next header (byte 6) TCP or UDP
    a.movReg(R4, R2);
    a.addImm(R4, 54);
    a.jgtReg(R4, R3, "pass");
    a.ldx(1, R8, R2, 20);
    a.movImm(R9, 0);
    a.jeqImm(R8, TCP, "l4v6");
    a.jeqImm(R8, UDP, "l4v6");
    for (int extension : EXTENSION_HEADERS) a.jeqImm(R8, extension, "extension");
    a.ja("pass");
    // counted unless multicast (MLD reports carry a hop-by-hop header: they are no flow's)
    a.label("extension");
    a.ldx(1, R0, R2, 38);
    a.jeqImm(R0, 0xff, "pass");
    BpfCounters.emitIncrement(a, countersFd, EXTENSION_PASSED);
    a.ja("pass");

    a.label("l4v6");
    // r4 = L4 header at 54; as for IPv4
    a.movReg(R0, R4);
    a.addImm(R0, 8);
    a.jgtReg(R0, R3, "pass");
    a.jneImm(R8, TCP, "key6");
    a.movReg(R0, R4);
    a.addImm(R0, 14);
    a.jgtReg(R0, R3, "pass");
    a.ldx(1, R9, R4, 13);
    a.andImm(R9, 0x12);
    a.label("key6");
    // key at fp-64: saddr (packet 22..37), sport, protocol, 0, daddr (38..53), dport, 0 0
    a.ldx(8, R0, R2, 22);
    a.stx(8, R10, -64, R0);
    a.ldx(8, R0, R2, 30);
    a.stx(8, R10, -56, R0);
    a.ldx(2, R0, R4, 0);
    a.stx(2, R10, -48, R0);
    a.stx(1, R10, -46, R8);
    a.stImm(1, R10, -45, 0);
    for (int i = 0; i < 16; i += 4) {
      a.ldx(4, R0, R2, 38 + i);
      a.stx(4, R10, -44 + i, R0);
    }
    a.ldx(2, R0, R4, 2);
    a.stx(4, R10, -28, R0); // dport and two zero bytes
    emitLookup(a, map6Fd, countersFd, -64, 16, "forward6");

    a.label("forward6");
    a.call(5); // bpf_ktime_get_ns
    a.stx(8, R7, 24, R0);
    a.ldx(4, R1, R7, 16);
    a.jsetImm(R1, ENCAP, "encap6");
    BpfCounters.emitIncrement(a, countersFd, FORWARDED);
    // struct bpf_redir_neigh at fp-88: nh_family AF_INET6 (10), ipv6_nh = the server
    a.stImm(4, R10, -88, 10);
    for (int i = 0; i < 16; i += 4) {
      a.ldx(4, R1, R7, i);
      a.stx(4, R10, -84 + i, R1);
    }
    emitRedirectNeigh(a, fabricIndex, -88);

    a.label("encap6");
    // as for IPv4, 84 bytes: outer IPv4 (the fabric is IPv4), UDP, the 56-byte version 2 header
    emitGrow(a, fabricIndex, -20, OVERHEAD6, ENCAP6_FLAGS);
    // the frame is IPv4 now (adjust_room changed skb->protocol, not the Ethernet header)
    a.stImm(2, R2, 12, BpfAsm.wire16(0x0800));
    emitOuter(a, encap, -48);
    // version 2 header at 42 (EncapHeader6): version, protocol, length, connection id, check
    a.stImm(1, R2, 42, EncapHeader6.VERSION);
    a.ldx(1, R1, R10, -46);
    a.stx(1, R2, 43, R1);
    a.stImm(2, R2, 44, BpfAsm.wire16(EncapHeader6.LENGTH));
    a.ldx(4, R1, R7, 20);
    a.be32(R1);
    a.stx(4, R2, 46, R1);
    a.stImm(4, R2, 50, BpfAsm.wire32((int) (encap.farmCheck() >>> 32)));
    a.stImm(4, R2, 54, BpfAsm.wire32((int) encap.farmCheck()));
    // client address at 58, client port at 74, VIP port at 76, reserved zero at 78, VIP at 82
    a.ldx(8, R1, R10, -64);
    a.stx(8, R2, 58, R1);
    a.ldx(8, R1, R10, -56);
    a.stx(8, R2, 66, R1);
    a.ldx(2, R1, R10, -48);
    a.stx(2, R2, 74, R1);
    a.ldx(2, R1, R10, -28);
    a.stx(2, R2, 76, R1);
    a.stImm(4, R2, 78, 0);
    for (int i = 0; i < 16; i += 4) {
      a.ldx(4, R1, R10, -44 + i);
      a.stx(4, R2, 82 + i, R1);
    }
    emitEncapsulated(a, countersFd, fabricIndex);
  }

  /**
   * r7 = the entry of the key at {@code fp+keyAt} in map {@code mapFd}, or on to the stack if none.
   * A SYN without ACK (r9) is never forwarded: it deletes a CLOSING entry (flags at value offset
   * {@code flagsAt}), since a new connection now uses the 4-tuple. Anything else jumps to {@code
   * forward}.
   */
  private static void emitLookup(
      BpfAsm a, int mapFd, int countersFd, int keyAt, int flagsAt, String forward) {
    a.ldMapFd(R1, mapFd);
    a.movReg(R2, R10);
    a.addImm(R2, keyAt);
    a.call(1); // bpf_map_lookup_elem
    a.jeqImm(R0, 0, "pass");
    a.movReg(R7, R0);
    a.jneImm(R9, 0x02, forward);
    a.ldx(4, R1, R7, flagsAt);
    a.andImm(R1, CLOSING);
    a.jeqImm(R1, 0, "pass");
    a.ldMapFd(R1, mapFd);
    a.movReg(R2, R10);
    a.addImm(R2, keyAt);
    a.call(3); // bpf_map_delete_elem
    a.jneImm(R0, 0, "pass"); // someone else deleted it first
    BpfCounters.emitIncrement(a, countersFd, CLOSING_DELETED);
    a.ja("pass");
  }

  /** {@code return bpf_redirect_neigh(fabric, fp+nhAt, 20, 0)}. */
  private static void emitRedirectNeigh(BpfAsm a, int fabricIndex, int nhAt) {
    a.movImm(R1, fabricIndex);
    a.movReg(R2, R10);
    a.addImm(R2, nhAt);
    a.movImm(R3, 20);
    a.movImm(R4, 0);
    a.call(152);
    a.exit();
  }

  /**
   * Makes room for {@code overhead} bytes of outer headers after the Ethernet header, or jumps to
   * {@code failed}: {@code bpf_check_mtu} (its length at {@code fp+mtuAt}) first, then {@code
   * bpf_skb_adjust_room} with {@code flags}; leaves r2 = data with that much more checked present.
   */
  private static void emitGrow(BpfAsm a, int fabricIndex, int mtuAt, int overhead, long flags) {
    a.stImm(4, R10, mtuAt, 0);
    a.movReg(R1, R6);
    a.movImm(R2, fabricIndex);
    a.movReg(R3, R10);
    a.addImm(R3, mtuAt);
    a.movImm(R4, overhead);
    a.movImm(R5, 0);
    a.call(163); // bpf_check_mtu
    a.jneImm(R0, 0, "failed");
    a.movReg(R1, R6);
    a.movImm(R2, overhead);
    a.movImm(R3, ADJ_ROOM_MAC);
    a.ldImm64(R4, flags);
    a.call(50); // bpf_skb_adjust_room
    a.jneImm(R0, 0, "failed");
    a.ldx(4, R2, R6, 76);
    a.ldx(4, R3, R6, 80);
    a.movReg(R4, R2);
    a.addImm(R4, 14 + overhead);
    a.jgtReg(R4, R3, "failed");
  }

  /**
   * Writes the outer IPv4 header at 14 (from the encapsulation source to the server's IPv4 address,
   * the first 4 bytes of the value in r7) and UDP header at 34 (source port from the client port at
   * {@code fp+clientPortAt}); r2 = data. Leaves r8 = the outer IPv4 total length.
   */
  private static void emitOuter(BpfAsm a, FlowForwarder.Encap encap, int clientPortAt) {
    // outer IPv4 at 14: version/IHL, TOS, total length, id 0, DF, TTL 64, UDP, checksum, addresses
    a.stImm(2, R2, 14, BpfAsm.wire16(0x4500));
    a.ldx(4, R8, R6, 0); // skb->len, Ethernet included
    a.addImm(R8, -14);
    a.andImm(R8, 0xffff);
    a.movReg(R1, R8);
    a.be16(R1);
    a.stx(2, R2, 16, R1);
    a.stImm(2, R2, 18, 0);
    a.stImm(2, R2, 20, BpfAsm.wire16(0x4000));
    a.stImm(2, R2, 22, BpfAsm.wire16(0x4011));
    a.stImm(2, R2, 24, 0);
    byte[] src = encap.source().getAddress();
    a.stImm(4, R2, 26, BpfAsm.wire32(ByteBuffer.wrap(src).getInt()));
    a.ldx(4, R1, R7, 0);
    a.stx(4, R2, 30, R1);
    // header checksum: the fixed words summed here, plus total length and destination
    int fixed =
        0x4500
            + 0x4000
            + 0x4011
            + ((src[0] & 0xff) << 8 | (src[1] & 0xff))
            + ((src[2] & 0xff) << 8 | (src[3] & 0xff));
    a.be32(R1);
    a.movReg(R4, R1);
    a.rshImm(R4, 16);
    a.andImm(R1, 0xffff);
    a.addReg(R1, R4);
    a.addReg(R1, R8);
    a.addImm(R1, fixed);
    for (int fold = 0; fold < 2; fold++) {
      a.movReg(R4, R1);
      a.rshImm(R4, 16);
      a.andImm(R1, 0xffff);
      a.addReg(R1, R4);
    }
    a.xorImm(R1, 0xffff);
    a.be16(R1);
    a.stx(2, R2, 24, R1);
    // UDP at 34: source port 0xC000 | (client port & 0x3fff), the encap port, length, checksum 0
    a.ldx(2, R1, R10, clientPortAt);
    a.be16(R1);
    a.andImm(R1, 0x3fff);
    a.orImm(R1, 0xc000);
    a.be16(R1);
    a.stx(2, R2, 34, R1);
    a.stImm(2, R2, 36, BpfAsm.wire16(encap.port()));
    a.movReg(R1, R8);
    a.addImm(R1, -20);
    a.be16(R1);
    a.stx(2, R2, 38, R1);
    a.stImm(2, R2, 40, 0);
  }

  /** Counts an encapsulation and returns {@code bpf_redirect_neigh(fabric, NULL, 0, 0)}. */
  private static void emitEncapsulated(BpfAsm a, int countersFd, int fabricIndex) {
    BpfCounters.emitIncrement(a, countersFd, ENCAPSULATED);
    // the kernel routes the outer packet
    a.movImm(R1, fabricIndex);
    a.movImm(R2, 0);
    a.movImm(R3, 0);
    a.movImm(R4, 0);
    a.call(152);
    a.exit();
  }
}
