package io.baton.linux;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
    // Not preallocated: sized for a million flows, the maps cost memory only for those they hold
    // (~0.3 µs more per update, one per handoff).
    BpfHashMap flows = BpfHashMap.create(KEY_BYTES, VALUE_BYTES, maxEntries, false);
    BpfHashMap flows6 = null;
    BpfCounters counters = null;
    int prog = -1;
    try {
      flows6 = BpfHashMap.create(KEY6_BYTES, VALUE6_BYTES, maxEntries, false);
      counters = BpfCounters.create(FlowForwarderProgram.COUNTERS);
      prog =
          BpfProgram.load(
              FlowForwarderProgram.program(
                  flows.fd(), flows6.fd(), counters.fd(), fabricIndex, encap),
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
        counters.get(FlowForwarderProgram.FORWARDED),
        counters.get(FlowForwarderProgram.ENCAPSULATED),
        counters.get(FlowForwarderProgram.ENCAP_FAILED),
        counters.get(FlowForwarderProgram.CLOSING_DELETED),
        counters.get(FlowForwarderProgram.EXTENSION_PASSED));
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
      counters = BpfCounters.openPinned(dir.resolve("counters"), FlowForwarderProgram.COUNTERS);
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
              ? InetAddress.getByAddress(Arrays.copyOf(server, 4))
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

  @Override
  public String toString() {
    return "FlowForwarder[prog " + progFd + (linkFd >= 0 ? ", attached" : "") + "]";
  }
}
