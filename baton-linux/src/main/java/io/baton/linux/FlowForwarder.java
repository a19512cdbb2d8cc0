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

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The dispatcher's kernel data plane for moved flows, TCP and UDP: a tc program on the front
 * device's ingress (tcx) looks each IPv4 TCP or UDP packet's flow up in a BPF hash map and sends a
 * packet that has an entry to the flow's server through the fabric device, either unchanged ({@code
 * bpf_redirect_neigh} to the server, which must then be on the fabric's L2 segment, as {@link
 * TcForwarder}) or, for an {@link #ENCAP} entry, wrapped in IPv4 + UDP + {@link EncapHeader}
 * ({@code bpf_skb_adjust_room}) and routed by the kernel to the server wherever it is: servers
 * behind a router, issue 13. The server's {@link EncapReceiver} checks and unwraps it.
 *
 * <p>Per packet: Ethernet, IPv4 (options skipped, later fragments passed), TCP or UDP; the key is
 * {@code saddr | sport | protocol | 0 | daddr | dport | 0 0} (16 bytes, addresses and ports in
 * network order). No entry: on to the stack. A TCP SYN without ACK is never forwarded; if its entry
 * is {@link #CLOSING} (the flow it named has ended) the program deletes the entry, since a new
 * connection now uses the 4-tuple, and the SYN goes to the stack. A forwarded packet stamps the
 * entry's last-seen time ({@code bpf_ktime_get_ns}). A packet that cannot be wrapped is dropped and
 * counted (a's stack no longer has the connection and would only reset it): one that would exceed
 * the fabric's MTU once wrapped ({@code bpf_check_mtu}; clients must send at most MTU - 56, so the
 * dispatcher clamps TCP's MSS; no ICMP is sent), unless it is a TCP GSO packet, whose segment size
 * the kernel lowers by the 56 bytes; and one {@code bpf_skb_adjust_room} refuses, such as a UDP GSO
 * packet (UDP_SEGMENT), whose segment size is the application's. Counters are atomic adds to a BPF
 * array.
 *
 * <p>Encapsulated GSO packets (a 64 KB TCP send through veth) are marked UDP-tunnel GSO with the
 * 28-byte header as their "inner L2", so whoever segments them repeats the outer headers and the
 * Baton header on every segment.
 *
 * <p>IPv6 clients (issue 13): a packet of EtherType 0x86DD whose fixed 40-byte header is followed
 * directly by TCP or UDP is looked up in a second hash map ({@link Flow6}; key {@code saddr 16 |
 * sport 2, protocol 1, 0 | daddr 16 | dport 2, 0 0}, 40 bytes, nftables' register layout as for
 * IPv4) with the same rules (a SYN never forwarded, a CLOSING entry deleted by one). A direct entry
 * names an IPv6 server, the next hop of {@code bpf_redirect_neigh} (AF_INET6), so that server must
 * have an IPv6 address on the fabric's L2 segment. An {@link #ENCAP} entry names the server's IPv4
 * fabric address: the farm's fabric is IPv4, so the IPv6 packet travels in IPv4 + UDP + a version 2
 * header ({@link EncapHeader6}, 56 bytes; {@link #OVERHEAD6} in all, so IPv6 clients must send at
 * most MTU - 84 bytes and a VIP's IPv6 MSS is min(front MTU - 60, fabric MTU - 144)); {@code
 * bpf_skb_adjust_room} with the same UDP-tunnel flags (L2 length 56) turns the packet's protocol
 * into IPv4 itself, and the program rewrites the frame's EtherType to match. An IPv6 packet with
 * any extension header after the fixed one (hop-by-hop, routing, fragment, destination options, AH,
 * ESP, mobility, HIP, shim6, experimental) is not examined: it goes to the stack and is counted
 * ({@link Counters#ipv6ExtensionPassed}) unless its destination is multicast (MLD reports carry a
 * hop-by-hop header); other next headers (ICMPv6) pass uncounted.
 *
 * <p>The program is hand-assembled (no compiler on the host) and checked by the verifier at load;
 * its settings (fabric device, encapsulation source, port, farm check) are baked in. Detached and
 * its maps freed when closed, unless {@link #pin pinned}. Not thread-safe.
 */
public final class FlowForwarder implements AutoCloseable {
  /** IP protocol numbers of the flows it forwards. */
  public static final int TCP = 6, UDP = 17;

  /** Entry flags: wrap the packets; the flow has ended (a SYN on its 4-tuple deletes the entry). */
  public static final int ENCAP = 1, CLOSING = 2;

  /** Bytes an encapsulation adds: outer IPv4 (20), UDP (8), Baton header (28). */
  public static final int OVERHEAD = 20 + 8 + EncapHeader.LENGTH;

  /** Bytes an encapsulation of an IPv6 packet adds: outer IPv4 (20), UDP (8), header v2 (56). */
  public static final int OVERHEAD6 = EncapHeader6.OVERHEAD;

  static final int KEY_BYTES = 16;
  static final int VALUE_BYTES = 24;
  static final int KEY6_BYTES = 40;
  static final int VALUE6_BYTES = 32;
  private static final int COUNTERS = 5;
  private static final int FORWARDED = 0,
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
  // sets skb->protocol to IPv4 itself, bpf_skb_net_grow in net/core/filter.c since 5.x)
  private static final int ADJ_ROOM_MAC = 1;
  private static final long ENCAP_FLAGS = encapFlags(EncapHeader.LENGTH);
  private static final long ENCAP6_FLAGS = encapFlags(EncapHeader6.LENGTH);

  private static long encapFlags(int headerLength) {
    return (1L << 1) | (1L << 4) | ((long) headerLength << 56);
  }

  /**
   * How encapsulated packets leave the dispatcher: from {@code source} (its fabric address), to UDP
   * port {@code port} on the server, carrying {@code farmCheck} (8 bytes the caller derives from
   * the cluster key) in every Baton header.
   */
  public record Encap(Inet4Address source, int port, long farmCheck) {
    public Encap {
      if (port < 1 || port > 0xffff) throw new IllegalArgumentException("port " + port);
    }
  }

  /** A flow as the client sends it: protocol, client address and port, VIP and port. */
  public record Flow(
      int protocol, Inet4Address client, int clientPort, Inet4Address vip, int vipPort) {
    public Flow {
      if (protocol != TCP && protocol != UDP)
        throw new IllegalArgumentException("protocol must be 6 or 17, not " + protocol);
      if (clientPort < 0 || clientPort > 0xffff || vipPort < 0 || vipPort > 0xffff)
        throw new IllegalArgumentException("ports " + clientPort + ", " + vipPort);
    }

    /** The map key: saddr, sport, protocol, 0, daddr, dport, 0, 0. */
    byte[] key() {
      ByteBuffer b = ByteBuffer.allocate(KEY_BYTES);
      b.put(client.getAddress()).putShort((short) clientPort).put((byte) protocol).put((byte) 0);
      b.put(vip.getAddress()).putShort((short) vipPort).putShort((short) 0);
      return b.array();
    }

    static Flow ofKey(byte[] k) {
      ByteBuffer b = ByteBuffer.wrap(k);
      Inet4Address client = address(b);
      int clientPort = b.getShort() & 0xffff;
      int protocol = b.get() & 0xff;
      b.get();
      return new Flow(protocol, client, clientPort, address(b), b.getShort() & 0xffff);
    }
  }

  /**
   * One map entry: the flow, its server, flags, connection id and when the program last forwarded
   * one of its packets ({@code CLOCK_MONOTONIC} nanoseconds; 0 if never).
   */
  public record Entry(
      Flow flow, Inet4Address server, int flags, int connectionId, long lastSeenNs) {}

  /** An IPv6 flow as the client sends it: protocol, client address and port, VIP and port. */
  public record Flow6(
      int protocol, Inet6Address client, int clientPort, Inet6Address vip, int vipPort) {
    public Flow6 {
      if (protocol != TCP && protocol != UDP)
        throw new IllegalArgumentException("protocol must be 6 or 17, not " + protocol);
      if (clientPort < 0 || clientPort > 0xffff || vipPort < 0 || vipPort > 0xffff)
        throw new IllegalArgumentException("ports " + clientPort + ", " + vipPort);
    }

    /** The map key: saddr, sport, protocol, 0, daddr, dport, 0, 0. */
    byte[] key() {
      ByteBuffer b = ByteBuffer.allocate(KEY6_BYTES);
      b.put(client.getAddress()).putShort((short) clientPort).put((byte) protocol).put((byte) 0);
      b.put(vip.getAddress()).putShort((short) vipPort).putShort((short) 0);
      return b.array();
    }

    static Flow6 ofKey(byte[] k) {
      ByteBuffer b = ByteBuffer.wrap(k);
      Inet6Address client = address6(b);
      int clientPort = b.getShort() & 0xffff;
      int protocol = b.get() & 0xff;
      b.get();
      return new Flow6(protocol, client, clientPort, address6(b), b.getShort() & 0xffff);
    }
  }

  /**
   * One IPv6 map entry, as {@link Entry}; the server is an {@link Inet4Address} (its fabric
   * address) for an {@link #ENCAP} entry and an {@link Inet6Address} for a direct one.
   */
  public record Entry6(
      Flow6 flow, InetAddress server, int flags, int connectionId, long lastSeenNs) {}

  /**
   * Packets forwarded unchanged, packets encapsulated, packets dropped because they could not be
   * wrapped (too long for the fabric once wrapped, or refused by the kernel), {@link #CLOSING}
   * entries a SYN deleted (all of these IPv4 and IPv6 together), and IPv6 packets passed to the
   * stack unexamined because an extension header follows their fixed header (unicast ones only:
   * every host's MLD reports to multicast groups carry a hop-by-hop header).
   */
  public record Counters(
      long forwarded,
      long encapsulated,
      long encapFailed,
      long closingDeleted,
      long ipv6ExtensionPassed) {}

  private final BpfHashMap flows;
  private final BpfHashMap flows6;
  private final BpfCounters counters;
  private final int progFd;
  private final int linkFd;
  private boolean closed;

  private FlowForwarder(
      BpfHashMap flows, BpfHashMap flows6, BpfCounters counters, int progFd, int linkFd) {
    this.flows = flows;
    this.flows6 = flows6;
    this.counters = counters;
    this.progFd = progFd;
    this.linkFd = linkFd;
  }

  /**
   * Makes the maps (room for {@code maxEntries} IPv4 flows and as many IPv6 ones) and the program,
   * and attaches it to {@code frontDevice}'s ingress, forwarding through {@code fabricDevice}; both
   * devices in the calling thread's network namespace.
   */
  public static FlowForwarder attach(
      String frontDevice, String fabricDevice, Encap encap, int maxEntries) throws LinuxException {
    int front = Addresses.linkIndex(frontDevice);
    return load(Addresses.linkIndex(fabricDevice), encap, maxEntries, front, frontDevice);
  }

  /**
   * The program and its maps, loaded; attached to the ingress of device {@code frontIndex} (named
   * {@code frontDevice} in errors) unless it is 0 (for {@link #testRun}).
   */
  static FlowForwarder load(
      int fabricIndex, Encap encap, int maxEntries, int frontIndex, String frontDevice)
      throws LinuxException {
    BpfHashMap flows = BpfHashMap.create(KEY_BYTES, VALUE_BYTES, maxEntries);
    BpfHashMap flows6 = null;
    BpfCounters counters = null;
    int prog = -1;
    try {
      flows6 = BpfHashMap.create(KEY6_BYTES, VALUE6_BYTES, maxEntries);
      counters = BpfCounters.create(COUNTERS);
      prog =
          BpfProgram.load(
              program(flows.fd(), flows6.fd(), counters.fd(), fabricIndex, encap),
              "flow forwarder");
      int link = frontIndex == 0 ? -1 : BpfProgram.attachTcxIngress(prog, frontIndex, frontDevice);
      return new FlowForwarder(flows, flows6, counters, prog, link);
    } catch (LinuxException | RuntimeException e) {
      if (prog >= 0) Sockets.closeQuietly(prog);
      if (counters != null) counters.close();
      if (flows6 != null) flows6.close();
      flows.close();
      throw e;
    }
  }

  /**
   * Sends {@code flow}'s later packets to {@code server}, unchanged or ({@link #ENCAP} in {@code
   * flags}) encapsulated with {@code connectionId} in the header; replaces an entry (its last-seen
   * time starts again at 0). One {@code bpf(2)} call.
   */
  public void put(Flow flow, Inet4Address server, int flags, int connectionId)
      throws LinuxException {
    ByteBuffer v = ByteBuffer.allocate(VALUE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    v.put(server.getAddress()).putInt(flags).putInt(connectionId).putInt(0).putLong(0);
    flows.put(flow.key(), v.array());
  }

  /** Stops forwarding {@code flow}; false if it had no entry. */
  public boolean remove(Flow flow) throws LinuxException {
    return flows.remove(flow.key());
  }

  /** Visits every entry (see {@link BpfHashMap#forEach} on changes meanwhile). */
  public void forEach(Consumer<Entry> each) throws LinuxException {
    flows.forEach((k, v) -> each.accept(entry(k, v)));
  }

  /**
   * Sends IPv6 {@code flow}'s later packets to {@code server}: with {@link #ENCAP} in {@code flags}
   * encapsulated (version 2 header with {@code connectionId}) to {@code server}, which must then be
   * the server's IPv4 fabric address; otherwise unchanged with {@code server}, an IPv6 address on
   * the fabric's segment, as the next hop. Replaces an entry (its last-seen time starts again at
   * 0). One {@code bpf(2)} call.
   */
  public void put6(Flow6 flow, InetAddress server, int flags, int connectionId)
      throws LinuxException {
    boolean encap = (flags & ENCAP) != 0;
    if (encap != server instanceof Inet4Address) {
      throw new IllegalArgumentException(
          (encap
                  ? "an encapsulated IPv6 flow goes to the server's IPv4 fabric address"
                  : "an IPv6 flow forwarded unchanged needs an IPv6 next hop")
              + ", not "
              + server.getHostAddress());
    }
    ByteBuffer v = ByteBuffer.allocate(VALUE6_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    v.put(server.getAddress()).position(16);
    v.putInt(flags).putInt(connectionId).putLong(0);
    flows6.put(flow.key(), v.array());
  }

  /** Stops forwarding IPv6 {@code flow}; false if it had no entry. */
  public boolean remove6(Flow6 flow) throws LinuxException {
    return flows6.remove(flow.key());
  }

  /** Visits every IPv6 entry (see {@link BpfHashMap#forEach} on changes meanwhile). */
  public void forEach6(Consumer<Entry6> each) throws LinuxException {
    flows6.forEach((k, v) -> each.accept(entry6(k, v)));
  }

  /** The program's counters now. */
  public Counters counters() throws LinuxException {
    return new Counters(
        counters.get(FORWARDED),
        counters.get(ENCAPSULATED),
        counters.get(ENCAP_FAILED),
        counters.get(CLOSING_DELETED),
        counters.get(EXTENSION_PASSED));
  }

  /**
   * Pins the flow maps, the counters and the attachment in directory {@code dir} of a bpf file
   * system (files {@code flows}, {@code flows6}, {@code counters}, {@code link}): the program keeps
   * forwarding with its entries after {@link #close} and after this process is gone, so a
   * dispatcher restart loses no flow. {@link #adoptPinned} takes them up again; {@link #unpin} ends
   * them.
   */
  public void pin(Path dir) throws LinuxException {
    if (closed) throw new IllegalStateException("closed");
    if (linkFd < 0) throw new IllegalStateException("not attached");
    flows.pin(dir.resolve("flows"));
    flows6.pin(dir.resolve("flows6"));
    counters.pin(dir.resolve("counters"));
    Bpf.pin(linkFd, dir.resolve("link"));
  }

  /**
   * The forwarder pinned in {@code dir} by {@link #pin}, running with the settings it was loaded
   * with; fails with a clear message if the maps there are not the flow maps and counters of this
   * class's shapes (a pin made before IPv6 flows, without {@code flows6}, is refused). Closing it
   * leaves the pins (and so the forwarding) in place.
   */
  public static FlowForwarder adoptPinned(Path dir) throws LinuxException {
    BpfHashMap flows = BpfHashMap.openPinned(dir.resolve("flows"), KEY_BYTES, VALUE_BYTES);
    BpfHashMap flows6 = null;
    BpfCounters counters = null;
    try {
      flows6 = BpfHashMap.openPinned(dir.resolve("flows6"), KEY6_BYTES, VALUE6_BYTES);
      counters = BpfCounters.openPinned(dir.resolve("counters"), COUNTERS);
      return new FlowForwarder(flows, flows6, counters, -1, Bpf.pinned(dir.resolve("link")));
    } catch (LinuxException | RuntimeException e) {
      if (counters != null) counters.close();
      if (flows6 != null) flows6.close();
      flows.close();
      throw e;
    }
  }

  /**
   * Removes the pins in {@code dir}: once no process holds a descriptor of them, the program is
   * detached and its maps freed.
   */
  public static void unpin(Path dir) throws LinuxException {
    for (String name : new String[] {"link", "counters", "flows6", "flows"}) {
      try {
        Files.delete(dir.resolve(name));
      } catch (IOException e) {
        throw new LinuxException("unlink(" + dir.resolve(name) + ")", e.toString());
      }
    }
  }

  /** Runs the program on {@code packet} with {@code BPF_PROG_TEST_RUN} (tests, timing). */
  BpfProgram.TestRun testRun(byte[] packet, int repeat) throws LinuxException {
    if (progFd < 0)
      throw new IllegalStateException("an adopted forwarder has no program descriptor");
    return BpfProgram.testRun(progFd, packet, repeat);
  }

  /** Detaches the program and frees the maps (the kernel's last references go). */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (linkFd >= 0) Sockets.closeQuietly(linkFd);
    if (progFd >= 0) Sockets.closeQuietly(progFd);
    try {
      counters.close();
    } catch (LinuxException e) {
      // a descriptor that would not close is gone anyway
    }
    try {
      flows.close();
    } catch (LinuxException e) {
      // as above
    }
    try {
      flows6.close();
    } catch (LinuxException e) {
      // as above
    }
  }

  private static Entry entry(byte[] k, byte[] value) {
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    Inet4Address server = address(v);
    int flags = v.getInt();
    int id = v.getInt();
    v.getInt();
    return new Entry(Flow.ofKey(k), server, flags, id, v.getLong());
  }

  private static Entry6 entry6(byte[] k, byte[] value) {
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    byte[] server = new byte[16];
    v.get(server);
    int flags = v.getInt();
    int id = v.getInt();
    InetAddress address;
    try {
      address =
          (flags & ENCAP) != 0
              ? InetAddress.getByAddress(java.util.Arrays.copyOf(server, 4))
              : Inet6Address.getByAddress(null, server, null);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
    return new Entry6(Flow6.ofKey(k), address, flags, id, v.getLong());
  }

  private static Inet6Address address6(ByteBuffer b) {
    byte[] a = new byte[16];
    b.get(a);
    try {
      return Inet6Address.getByAddress(null, a, null);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static Inet4Address address(ByteBuffer b) {
    byte[] a = new byte[4];
    b.get(a);
    try {
      return (Inet4Address) InetAddress.getByAddress(a);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  // ---- the program ---------------------------------------------------------------------------

  /**
   * The eBPF instructions, settings baked in. IPv4 registers: r6 the skb, r7 the map value, r8 the
   * protocol (then the outer IP length), r9 the TCP flags {@code & (SYN|ACK)} (0 for UDP). IPv4
   * stack: the key at fp-16, a counter index at fp-24 ({@link BpfCounters#emitIncrement}),
   * bpf_check_mtu's length at fp-28, a {@code bpf_redir_neigh} at fp-48. IPv6 ({@link #emitIpv6}):
   * the same registers; the key at fp-64, bpf_check_mtu's length at fp-20, a {@code
   * bpf_redir_neigh} at fp-88.
   */
  static byte[] program(int mapFd, int map6Fd, int countersFd, int fabricIndex, Encap encap) {
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
  private static void emitIpv6(BpfAsm a, int map6Fd, int countersFd, int fabricIndex, Encap encap) {
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
  private static void emitOuter(BpfAsm a, Encap encap, int clientPortAt) {
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

  @Override
  public String toString() {
    return "FlowForwarder[prog " + progFd + (linkFd >= 0 ? ", attached" : "") + "]";
  }
}
