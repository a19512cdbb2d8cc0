package io.baton.dataplane;

import io.baton.linux.Errno;
import io.baton.linux.IpText;
import io.baton.linux.LinuxException;
import io.baton.linux.NfSetElements;
import io.baton.linux.NfSetElements.Add;
import io.baton.linux.NfSetElements.Change;
import io.baton.linux.NfSetElements.Delete;
import io.baton.linux.Nftables;
import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The dispatcher's forwarding table in "direct" mode: an nftables netdev table on the front
 * interface. Its ingress map, keyed on a connection's whole 4-tuple (client address and port, VIP
 * and port), sends every later packet of a handed-off connection, unchanged, to the owning server's
 * MAC on the fabric ({@code fwd ip to ... device}). A SYN without ACK is never forwarded: a new
 * connection, even one that reuses an old 4-tuple, is always answered by the dispatcher's own
 * stack. Entries have no timeout: they live as long as their connection and are removed by the
 * dispatcher (see {@code ForwardingService}).
 *
 * <p>A closed connection's late packets (the client's FIN, its ACK of the server's FIN) go on to
 * its server for a grace period ({@link Retire}): its entry moves to the {@code late} map and the
 * {@code closing} set, whose elements expire by kernel timeout. A SYN to a VIP deletes its 4-tuple
 * from {@code closing} in the packet path, so a client that reuses the 4-tuple at once has its new
 * handshake answered here instead of forwarded to the old server; live entries are never in {@code
 * closing}, so a SYN cannot cut an open connection.
 *
 * <p>The table outlives the process: {@link #open} adopts an existing table of the same shape (its
 * comment carries a fingerprint of the devices, the VIPs and the key format) with every entry in
 * it, and replaces one of another shape atomically. {@link #close} keeps the table; {@link
 * #deleteTable} removes it.
 *
 * <p>The egress chain drops everything the dispatcher's own kernel would still send on a connection
 * being handed off ("frozen"). Found on a real kernel: after the socket is frozen and exported,
 * pacing, tail-loss-probe and window-probe timers may still transmit never-sent bytes. The client
 * then acknowledges data the new owner believes unsent; the new owner discards every such segment
 * as "ACK of unsent data", including the client's data, and the connection deadlocks. Dropping the
 * old copy's output from before the export closes that window. Two ways name a frozen connection:
 * its socket's mark ({@link ConnectionExporter#FROZEN_MARK}, set by the exporter's freeze and
 * cleared by its resume: the dispatcher's handoffs use only this, no set element per handoff), and
 * an element of the {@code frozen} set ({@link Freeze}, for tools and tests that freeze sockets by
 * flow). Frozen elements keep a safety timeout: they live for one handoff only.
 *
 * <p>The table itself is made, listed and deleted through libnftables (rare, and easiest to read in
 * nft syntax); its elements change and are read through nf_tables netlink ({@link NfSetElements}),
 * a few microseconds per change where libnftables spends hundreds re-reading its cache. Every call
 * is one atomic netlink batch; the nft binary is never run. Confined to the thread that opened it,
 * which must be in the dispatcher's network namespace.
 */
public final class DirectForwardingTable implements AutoCloseable {
  private static final Pattern TABLE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,30}");
  private static final Pattern DEVICE = Pattern.compile("[a-zA-Z0-9_.-]{1,15}");

  /** Frozen entries only live for the length of a handoff; this is a safety net. */
  private static final int FROZEN_TIMEOUT_S = 60;

  /** Names the key format in the table's comment; bump it when the ruleset's shape changes. */
  static final String FORMAT = "baton-forwarding/4";

  private static final String FAMILY = "netdev";

  /**
   * The owner map is split by the client port's low bits into this many maps (a verdict map picks
   * the shard's chain). Why: the kernel answers a set dump in 32 KiB pieces and restarts its
   * hash-table walk from the first element for each piece, so reading one map costs O(n^2): 100,000
   * entries took 0.3 s and 1,000,000 took 60 s on one map here. Shards divide that by their number
   * and keep adopting a million entries in seconds.
   */
  static final int SHARDS = 64;

  private static final String[] OWNER = names("owner_");
  private static final String[] FORWARD = names("forward_");
  private static final String FROZEN = "frozen";

  /** Entries of closed connections during their grace: 4-tuple -> server, each with its timeout. */
  private static final String LATE = "late";

  /**
   * The 4-tuples of {@link #LATE} that no SYN has reopened yet: the packet path deletes from it.
   */
  private static final String CLOSING = "closing";

  /**
   * Room in {@link #CLOSING} (the kernel gives a dynamic set 65,535 unless told): connections
   * closed within one grace period, e.g. 20,000 handoffs/s for 2 s take 40,000.
   */
  static final int CLOSING_MAX = 1 << 20;

  // The IPv6 part, declared only when there are IPv6 VIPs (a table without them is byte for byte
  // the IPv4 table, so its fingerprint and adoption are unchanged). Keys are 40 bytes (each address
  // four registers, each port one); one owner map, not sharded: IPv6 entries are few so far.
  private static final String VIPS6 = "vips6";
  private static final String OWNER6 = "owner6";
  private static final String FORWARD6 = "forward6";
  private static final String FROZEN6 = "frozen6";
  private static final String LATE6 = "late6";
  private static final String CLOSING6 = "closing6";
  private static final String KEY6 = "ip6 saddr . tcp sport . ip6 daddr . tcp dport";
  private static final String TUPLE6 = "ipv6_addr . inet_service . ipv6_addr . inet_service";

  private final Nftables nft;
  private final NfSetElements elements;
  private final String table;
  private final boolean ipv6;
  // Flows in the kernel's frozen set (handoffs in flight: few); confined to the opening thread, or
  // to holders of the shareUnder lock.
  private final Set<FlowKey> frozen = new HashSet<>();

  /** IPv6 flows forwarded wrapped to IPv4 servers: no element here ({@link #wrappedOnly}). */
  private final Set<FlowKey> wrapped = new HashSet<>();

  private boolean closed;

  private DirectForwardingTable(
      Nftables nft, NfSetElements elements, String table, Collection<Vip> vips) {
    this.nft = nft;
    this.elements = elements;
    this.table = table;
    this.ipv6 = vips.stream().anyMatch(Vip::ipv6);
  }

  /**
   * What {@link #open} found: the table, the entries it adopted, and, if a table of another shape
   * was replaced, how many entries that dropped and why.
   */
  public static final class Opened {
    private final DirectForwardingTable table;
    private final FlowEntries entries;
    private final int dropped;
    private final String replacedBecause;
    private Map<FlowKey, InetAddress> adopted;

    Opened(DirectForwardingTable table, FlowEntries entries, int dropped, String replacedBecause) {
      this.table = table;
      this.entries = entries;
      this.dropped = dropped;
      this.replacedBecause = replacedBecause;
    }

    public DirectForwardingTable table() {
      return table;
    }

    /**
     * The adopted entries as {@link FlowEntries}: each with token {@link #ADOPTED_TOKEN},
     * installation time {@link #ADOPTED_INSTALLED_NS}, in no particular order. The caller may take
     * this map over and change it.
     */
    public FlowEntries entries() {
      return entries;
    }

    /**
     * The adopted entries as a map of flow to server fabric address, built on first call (a million
     * entries take ~200 MB this way: for tests and small tables; {@link #entries} is the compact
     * form).
     */
    public Map<FlowKey, InetAddress> adopted() {
      if (adopted == null) {
        Map<FlowKey, InetAddress> m = new HashMap<>();
        entries.forEach((flow, e) -> m.put(flow, e.server()));
        adopted = Collections.unmodifiableMap(m);
      }
      return adopted;
    }

    public int dropped() {
      return dropped;
    }

    /** Why a table of another shape was replaced, or {@code null} if none was. */
    public String replacedBecause() {
      return replacedBecause;
    }
  }

  /** Token of an adopted entry: this process never saw the handoff that installed it. */
  public static final long ADOPTED_TOKEN = 0;

  /** Installation time of an adopted entry: before anything this process saw. */
  public static final long ADOPTED_INSTALLED_NS = Long.MIN_VALUE;

  /**
   * Opens the table that forwards packets for {@code vips} arriving on {@code frontDevice} out of
   * {@code fabricDevice}: adopts an existing one of the same shape (its entries stay, its frozen
   * set is emptied, since no handoff is in flight in a new process), replaces one of another shape
   * atomically, or creates it.
   */
  public static Opened open(
      String table, String frontDevice, String fabricDevice, Collection<Vip> vips)
      throws LinuxException {
    String ruleset = ruleset(table, frontDevice, fabricDevice, vips);
    String fingerprint = fingerprint(ruleset);
    Nftables nft = Nftables.open();
    NfSetElements elements = null;
    try {
      elements = NfSetElements.open();
      DirectForwardingTable t = new DirectForwardingTable(nft, elements, table, vips);
      String found = t.comment();
      if (found != null && found.equals(fingerprint)) {
        FlowEntries adopted = t.read();
        elements.flush(FAMILY, table, FROZEN);
        if (t.ipv6) elements.flush(FAMILY, table, FROZEN6);
        return new Opened(t, adopted, 0, null);
      }
      int dropped = 0;
      String why = null;
      FlowEntries carried = new FlowEntries();
      if (found != null) {
        // Established connections must not lose their forwarding to an upgrade or a changed
        // config: the entries of VIPs that remain go into the new table in the same transaction
        // that replaces the old one. Those of VIPs that are gone are dropped (and counted).
        int before = t.readTolerant(vips, carried);
        dropped = before - carried.size();
        why =
            found.startsWith(FORMAT + " ")
                ? "its devices or VIPs differ from this configuration"
                : "it has an older format ("
                    + (found.isEmpty() ? "no format comment" : found)
                    + ")";
      }
      nft.run(replace(table, withElements(ruleset, carried)));
      return new Opened(t, carried, dropped, why);
    } catch (LinuxException | RuntimeException e) {
      try {
        if (elements != null) elements.close();
      } finally {
        nft.close();
      }
      throw e;
    }
  }

  /**
   * Creates the table, replacing any table of that name and its entries, atomically. For tools and
   * tests that own the namespace; a dispatcher uses {@link #open}.
   */
  public static DirectForwardingTable create(
      String table, String frontDevice, String fabricDevice, Collection<Vip> vips)
      throws LinuxException {
    String ruleset = ruleset(table, frontDevice, fabricDevice, vips);
    Nftables nft = Nftables.open();
    try {
      nft.run(replace(table, ruleset));
      return new DirectForwardingTable(nft, NfSetElements.open(), table, vips);
    } catch (LinuxException | RuntimeException e) {
      nft.close();
      throw e;
    }
  }

  private static String replace(String table, String ruleset) {
    // "table" first so that "delete" cannot fail; the three run as one transaction.
    return "table netdev " + table + "\ndelete table netdev " + table + "\n" + ruleset;
  }

  private static String ruleset(
      String table, String frontDevice, String fabricDevice, Collection<Vip> vips) {
    check(TABLE_NAME, table, "table name");
    check(DEVICE, frontDevice, "front device");
    check(DEVICE, fabricDevice, "fabric device");
    if (vips.isEmpty()) throw new IllegalArgumentException("no VIPs to forward");
    String vipList =
        vips.stream()
            .filter(v -> !v.ipv6())
            .map(Vip::toNft)
            .sorted()
            .distinct()
            .collect(Collectors.joining(", "));
    String vip6List =
        vips.stream()
            .filter(Vip::ipv6)
            .map(Vip::toNft)
            .sorted()
            .distinct()
            .collect(Collectors.joining(", "));
    StringBuilder body = new StringBuilder();
    if (vipList.isEmpty()) {
      body.append("  set vips { type ipv4_addr . inet_service; }\n");
    } else {
      body.append("  set vips { type ipv4_addr . inet_service; elements = { ")
          .append(vipList)
          .append(" } }\n");
    }
    // The sets every close changes come first: nf_tables finds a set of an element message by
    // walking the table's list of sets and comparing names (nft_set_lookup_global), and a close
    // changes late and closing (perf: 3.9 us per handoff walking past 64 owner maps).
    body.append("  map ")
        .append(LATE)
        .append(" { type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr;")
        .append(" flags timeout; }\n")
        .append("  set ")
        .append(CLOSING)
        .append(" { type ipv4_addr . inet_service . ipv4_addr . inet_service;")
        .append(" flags dynamic, timeout; size ")
        .append(CLOSING_MAX)
        .append("; }\n")
        .append(
            "  set frozen { type ipv4_addr . inet_service . ipv4_addr . inet_service; flags timeout; timeout ")
        .append(FROZEN_TIMEOUT_S)
        .append("s; }\n");
    StringBuilder shardMap = new StringBuilder();
    for (int i = 0; i < SHARDS; i++) {
      body.append("  map ")
          .append(OWNER[i])
          .append(" { type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr; }\n");
      body.append("  chain ")
          .append(FORWARD[i])
          .append(" {\n")
          .append("    fwd ip to ")
          .append(KEY)
          .append(" map @")
          .append(OWNER[i])
          .append(" device \"")
          .append(fabricDevice)
          .append("\"\n")
          // A closed connection's late FIN/ACKs, until its grace ends or a SYN reopens the 4-tuple.
          .append("    ")
          .append(KEY)
          .append(" @")
          .append(CLOSING)
          .append(" fwd ip to ")
          .append(KEY)
          .append(" map @")
          .append(LATE)
          .append(" device \"")
          .append(fabricDevice)
          .append("\"\n  }\n");
      shardMap.append(i == 0 ? "" : ", ").append(i).append(" : goto ").append(FORWARD[i]);
    }
    if (!vip6List.isEmpty()) appendIpv6Declarations(body, vip6List, fabricDevice);
    body.append("  chain ingress {\n")
        .append("    type filter hook ingress device \"")
        .append(frontDevice)
        .append("\" priority 0; policy accept;\n")
        // A new connection on the 4-tuple of a closed one in its grace: from now on that
        // 4-tuple's packets are the new connection's and reach this host's stack. Only entries
        // in their grace can be reopened so; a SYN (forged or not) cannot cut a live connection.
        .append("    tcp flags & (syn | ack) == syn ip daddr . tcp dport @vips delete @")
        .append(CLOSING)
        .append(" { ")
        .append(KEY)
        .append(" }\n")
        // A SYN without ACK opens a connection: always the dispatcher's own stack's, even
        // when an entry of an older connection with the same 4-tuple is still there.
        .append("    ip daddr . tcp dport @vips tcp flags & (syn | ack) != syn tcp sport & ")
        .append(SHARDS - 1)
        .append(" vmap { ")
        .append(shardMap)
        .append(" }\n");
    if (!vip6List.isEmpty()) {
      // The same two rules for IPv6 VIPs, into the one IPv6 owner map's chain.
      body.append("    tcp flags & (syn | ack) == syn ip6 daddr . tcp dport @")
          .append(VIPS6)
          .append(" delete @")
          .append(CLOSING6)
          .append(" { ")
          .append(KEY6)
          .append(" }\n")
          .append("    ip6 daddr . tcp dport @")
          .append(VIPS6)
          .append(" tcp flags & (syn | ack) != syn goto ")
          .append(FORWARD6)
          .append("\n");
    }
    body.append("  }\n")
        .append("  chain egress {\n")
        .append("    type filter hook egress device \"")
        .append(frontDevice)
        .append("\" priority 0; policy accept;\n")
        .append("    meta mark ")
        .append(String.format("0x%08x", ConnectionExporter.FROZEN_MARK))
        .append(" drop\n")
        .append(
            "    ip saddr . tcp sport @vips ip daddr . tcp dport . ip saddr . tcp sport @frozen drop\n");
    if (!vip6List.isEmpty()) {
      body.append("    ip6 saddr . tcp sport @")
          .append(VIPS6)
          .append(" ip6 daddr . tcp dport . ip6 saddr . tcp sport @")
          .append(FROZEN6)
          .append(" drop\n");
    }
    body.append("  }\n");
    String shape = "table netdev " + table + " {\n" + body + "}\n";
    return "table netdev "
        + table
        + " {\n  comment \""
        + fingerprint(shape)
        + "\"\n"
        + body
        + "}\n";
  }

  private static final String KEY = "ip saddr . tcp sport . ip daddr . tcp dport";

  /**
   * The IPv6 sets, maps and chain: {@code fwd ip6 to} a server's IPv6 fabric address, otherwise as
   * the IPv4 ones (late map and closing set for closed connections, frozen set for handoffs).
   */
  private static void appendIpv6Declarations(
      StringBuilder body, String vip6List, String fabricDevice) {
    body.append("  set ")
        .append(VIPS6)
        .append(" { type ipv6_addr . inet_service; elements = { ")
        .append(vip6List)
        .append(" } }\n")
        .append("  map ")
        .append(LATE6)
        .append(" { type ")
        .append(TUPLE6)
        .append(" : ipv6_addr; flags timeout; }\n")
        .append("  set ")
        .append(CLOSING6)
        .append(" { type ")
        .append(TUPLE6)
        .append("; flags dynamic, timeout; size ")
        .append(CLOSING_MAX)
        .append("; }\n")
        .append("  set ")
        .append(FROZEN6)
        .append(" { type ")
        .append(TUPLE6)
        .append("; flags timeout; timeout ")
        .append(FROZEN_TIMEOUT_S)
        .append("s; }\n")
        .append("  map ")
        .append(OWNER6)
        .append(" { type ")
        .append(TUPLE6)
        .append(" : ipv6_addr; }\n")
        .append("  chain ")
        .append(FORWARD6)
        .append(" {\n")
        .append("    fwd ip6 to ")
        .append(KEY6)
        .append(" map @")
        .append(OWNER6)
        .append(" device \"")
        .append(fabricDevice)
        .append("\"\n")
        .append("    ")
        .append(KEY6)
        .append(" @")
        .append(CLOSING6)
        .append(" fwd ip6 to ")
        .append(KEY6)
        .append(" map @")
        .append(LATE6)
        .append(" device \"")
        .append(fabricDevice)
        .append("\"\n  }\n");
  }

  private static String[] names(String prefix) {
    String[] names = new String[SHARDS];
    for (int i = 0; i < SHARDS; i++) names[i] = prefix + i;
    return names;
  }

  /** The owner map that holds {@code flow}'s entry: the one the ingress chain picks for it. */
  private static String ownerOf(FlowKey flow) {
    return flow.ipv6() ? OWNER6 : OWNER[flow.clientPort() & (SHARDS - 1)];
  }

  private static String late(FlowKey flow) {
    return flow.ipv6() ? LATE6 : LATE;
  }

  private static String closing(FlowKey flow) {
    return flow.ipv6() ? CLOSING6 : CLOSING;
  }

  private static String frozen(FlowKey flow) {
    return flow.ipv6() ? FROZEN6 : FROZEN;
  }

  /** The format name and a digest of the ruleset without its comment: what "same shape" means. */
  private static String fingerprint(String ruleset) {
    String shape = ruleset.replaceFirst("\n  comment \"[^\"]*\"", "");
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(shape.getBytes(StandardCharsets.UTF_8));
      return FORMAT + " " + HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The table's comment, "" if it has none, {@code null} if there is no such table. */
  private String comment() throws LinuxException {
    return elements.tableComment(FAMILY, table).orElse(null);
  }

  /** One change of an {@link #apply} batch. */
  public sealed interface Op permits Forward, Unforward, Retire, Freeze, Unfreeze {
    FlowKey flow();
  }

  /**
   * Forwards {@code flow}'s packets to {@code server}; {@code replacing} says an entry is there
   * already (the kernel refuses to add a key that maps elsewhere, so it is deleted first).
   */
  public record Forward(FlowKey flow, InetAddress server, boolean replacing) implements Op {
    public Forward {
      checkServerFamily(flow, server);
    }
  }

  /** Stops forwarding {@code flow}; its packets reach the local stack again. */
  public record Unforward(FlowKey flow) implements Op {}

  /**
   * The connection closed: its entry leaves the owner map and its late packets (the client's FIN,
   * its ACK of the server's FIN) go on to {@code server} for {@code grace}, unless a SYN reopens
   * the 4-tuple first; then they reach this host's stack as the new connection's. {@code
   * replacingLate} says an earlier close of the same 4-tuple may still be in its grace (the kernel
   * refuses to add a key that maps elsewhere, so it is deleted first).
   */
  public record Retire(FlowKey flow, InetAddress server, Duration grace, boolean replacingLate)
      implements Op {
    public Retire {
      checkServerFamily(flow, server);
      if (grace.isNegative() || grace.isZero())
        throw new IllegalArgumentException("grace must be positive: " + grace);
    }
  }

  /**
   * An IPv6 flow to an IPv4 server is forwarded wrapped, by the BPF flow map alone ({@code
   * forwarding: encap}; nftables' {@code fwd ip6 to} needs an IPv6 next hop): this table keeps no
   * element for it, only the service's bookkeeping and the mirror do.
   */
  static boolean wrappedOnly(FlowKey flow, InetAddress server) {
    return flow.ipv6() && !(server instanceof Inet6Address);
  }

  private static void checkServerFamily(FlowKey flow, InetAddress server) {
    Objects.requireNonNull(server, "server");
    if (!flow.ipv6() && server instanceof Inet6Address) {
      throw new IllegalArgumentException(
          "cannot forward "
              + flow
              + " to "
              + IpText.of(server)
              + ": an IPv4 connection needs the server's IPv4 fabric address (fwd ip to)");
    }
  }

  /** Drops whatever this host still sends on {@code flow} (a no-op if already frozen). */
  public record Freeze(FlowKey flow) implements Op {}

  /** Stops dropping this host's output on {@code flow} (a no-op if not frozen). */
  public record Unfreeze(FlowKey flow) implements Op {}

  /**
   * Applies several changes in one atomic netlink batch: under load this is what keeps the table's
   * cost per handoff low (one kernel commit for many connections). If the batch fails (the kernel's
   * map is not what the caller believed), each change is applied on its own, tolerantly: see {@link
   * #applyTolerant}.
   */
  public void apply(List<Op> ops) throws LinuxException {
    checkOpen();
    if (ops.isEmpty()) return;
    // Frozen and wrapped-only membership after the batch, for the flows it touches only.
    Map<FlowKey, Boolean> frozenAfter = new HashMap<>();
    Map<FlowKey, Boolean> wrappedAfter = new HashMap<>();
    List<Change> batch = new ArrayList<>(ops.size() + 4);
    for (Op op : ops) {
      FlowKey f = op.flow();
      boolean isFrozen = frozenAfter.getOrDefault(f, frozen.contains(f));
      switch (op) {
        case Forward fw -> {
          if (fw.replacing() && !wrappedNow(f, wrappedAfter)) batch.add(delete(ownerOf(f), f));
          boolean wrap = wrappedOnly(f, fw.server());
          if (!wrap) batch.add(addOwner(f, fw.server()));
          if (f.ipv6()) wrappedAfter.put(f, wrap);
        }
        case Unforward u -> {
          if (!wrappedNow(f, wrappedAfter)) batch.add(delete(ownerOf(f), f));
          if (f.ipv6()) wrappedAfter.put(f, false);
        }
        case Retire r when wrappedOnly(f, r.server()) -> wrappedAfter.put(f, false);
        case Retire r -> {
          batch.add(delete(ownerOf(f), f));
          if (r.replacingLate()) {
            // The older close's elements: its late entry goes, and its closing element (if no SYN
            // deleted it yet) is renewed with this close's timeout.
            batch.add(delete(late(f), f));
            batch.add(addLate(f, r.server(), r.grace()));
            batch.addAll(renewClosing(f, r.grace()));
          } else {
            batch.add(addLate(f, r.server(), r.grace()));
            batch.add(addClosing(f, r.grace()));
          }
        }
        case Freeze z -> {
          if (!isFrozen) batch.add(addFrozen(f));
          frozenAfter.put(f, true);
        }
        case Unfreeze u -> {
          if (isFrozen) batch.add(delete(frozen(f), f));
          frozenAfter.put(f, false);
        }
      }
    }
    try {
      if (!batch.isEmpty()) commit(batch);
      frozenAfter.forEach(
          (f, in) -> {
            if (in) frozen.add(f);
            else frozen.remove(f);
          });
      wrappedAfter.forEach(
          (f, in) -> {
            if (in) wrapped.add(f);
            else wrapped.remove(f);
          });
    } catch (LinuxException e) {
      for (Op op : ops) applyTolerant(op);
    }
  }

  /**
   * Whether {@code flow} has no element here (wrapped-only) as of the batch being planned: only an
   * IPv6 flow can be, so an IPv4 flow (the common case, on every handoff's path) costs no lookup.
   */
  private boolean wrappedNow(FlowKey flow, Map<FlowKey, Boolean> wrappedAfter) {
    return flow.ipv6() && wrappedAfter.getOrDefault(flow, wrapped.contains(flow));
  }

  /**
   * Applies one change so that the kernel ends in the state it names whatever it held before:
   * deleting a missing element is fine, adding a key that maps elsewhere replaces it.
   */
  public void applyTolerant(Op op) throws LinuxException {
    checkOpen();
    FlowKey f = op.flow();
    switch (op) {
      case Forward fw when wrappedOnly(f, fw.server()) -> {
        deleteTolerant(ownerOf(f), f);
        wrapped.add(f);
      }
      case Forward fw -> {
        putReplacing(addOwner(f, fw.server()));
        wrapped.remove(f);
      }
      case Unforward u -> {
        if (!wrapped.remove(f)) deleteTolerant(ownerOf(f), f);
      }
      case Retire r when wrappedOnly(f, r.server()) -> wrapped.remove(f);
      case Retire r -> {
        deleteTolerant(ownerOf(f), f);
        putReplacing(addLate(f, r.server(), r.grace()));
        commit(renewClosing(f, r.grace()));
      }
      case Freeze z -> {
        commit(List.of(addFrozen(f)));
        frozen.add(f);
      }
      case Unfreeze u -> {
        deleteTolerant(frozen(f), f);
        frozen.remove(f);
      }
    }
  }

  /**
   * Start of a handoff, in one batch: drops whatever this host still sends on {@code flow} and
   * forwards the client's packets to {@code server} (its fabric address), whose guard drops them
   * until the restored socket exists. Call after freezing the socket, before exporting it.
   */
  public void freezeAndForward(FlowKey flow, InetAddress server) throws LinuxException {
    apply(List.of(new Forward(flow, server, false), new Freeze(flow)));
  }

  /** The new owner has the connection and the old socket is closed: stop dropping its output. */
  public void unfreeze(FlowKey flow) throws LinuxException {
    apply(List.of(new Unfreeze(flow)));
  }

  /** Removes several entries in one batch; entries that are not there are ignored. */
  public void removeAll(Collection<FlowKey> flows) throws LinuxException {
    List<Op> ops = new ArrayList<>(flows.size());
    for (FlowKey f : flows) ops.add(new Unforward(f));
    apply(ops);
  }

  /** Whether this object has {@code flow} in the kernel's frozen set. */
  public boolean isFrozen(FlowKey flow) {
    return frozen.contains(flow);
  }

  /**
   * Every entry of the kernel's maps, read with one netlink dump per shard: flow to server fabric
   * address. Elements that name no valid flow (port 0) are skipped. For tests and small tables;
   * {@link #read} is the compact form.
   */
  public Map<FlowKey, InetAddress> entries() throws LinuxException {
    Map<FlowKey, InetAddress> out = new HashMap<>();
    read().forEach((flow, e) -> out.put(flow, e.server()));
    return out;
  }

  /**
   * Every entry of the kernel's maps, read with one netlink dump per shard straight into a {@link
   * FlowEntries} (no object per element on the way), as {@link Opened#entries} describes them.
   * Elements that name no valid flow (port 0) are skipped.
   */
  public FlowEntries read() throws LinuxException {
    checkOpen();
    FlowEntries out = new FlowEntries();
    for (String shard : OWNER) {
      elements.dump(
          FAMILY,
          table,
          shard,
          (key, keyLength, data, dataLength) -> {
            if (keyLength != 16 || dataLength != 4) return;
            int clientPort = port(key, 4);
            int localPort = port(key, 12);
            if (clientPort == 0 || localPort == 0) return;
            out.put(
                bits(key, 0),
                clientPort,
                bits(key, 8),
                localPort,
                bits(data, 0),
                ADOPTED_TOKEN,
                ADOPTED_INSTALLED_NS);
          });
    }
    if (ipv6) readIpv6(OWNER6, null, out);
    return out;
  }

  /**
   * Reads the IPv6 owner map {@code map} into {@code out}: every entry, or with {@code kept} only
   * those of those VIPs. Returns how many elements there were.
   */
  private int readIpv6(String map, Collection<Vip> kept, FlowEntries out) throws LinuxException {
    return elements.dump(
        FAMILY,
        table,
        map,
        (key, data) -> {
          if (key.length != 40 || data.length != 16) return;
          FlowKey flow;
          try {
            flow =
                new FlowKey(
                    InetAddress.getByAddress(java.util.Arrays.copyOfRange(key, 0, 16)),
                    port(key, 16),
                    InetAddress.getByAddress(java.util.Arrays.copyOfRange(key, 20, 36)),
                    port(key, 36));
          } catch (java.net.UnknownHostException | IllegalArgumentException e) {
            return; // port 0 or a v4-mapped address: names no connection of ours
          }
          if (kept != null && !kept.contains(new Vip(flow.localIp(), flow.localPort()))) return;
          InetAddress server;
          try {
            server = InetAddress.getByAddress(data);
          } catch (java.net.UnknownHostException e) {
            return;
          }
          if (!(server instanceof Inet6Address)) return;
          out.put(flow, new FlowEntries.Entry(server, ADOPTED_TOKEN, ADOPTED_INSTALLED_NS));
        });
  }

  /**
   * Number of forwarding entries in the kernel's maps right now (one netlink dump per shard), each
   * key counted once: a dump taken while the kernel still grows a set's hash table after a burst of
   * inserts can hand some elements over twice (1,001,380 for 1,000,000 installed, measured).
   */
  public int size() throws LinuxException {
    checkOpen();
    int n = 0;
    for (String shard : OWNER) n += distinctKeys(shard);
    if (ipv6) n += distinctKeys(OWNER6);
    return n;
  }

  private int distinctKeys(String set) throws LinuxException {
    java.util.Set<java.nio.ByteBuffer> keys = new java.util.HashSet<>();
    elements.dump(
        FAMILY,
        table,
        set,
        (k, kl, d, dl) -> keys.add(java.nio.ByteBuffer.wrap(java.util.Arrays.copyOf(k, kl))));
    return keys.size();
  }

  /**
   * Closed connections whose late packets are still forwarded right now (their grace not over,
   * their 4-tuple not reopened by a SYN): one netlink dump.
   */
  public int closingCount() throws LinuxException {
    checkOpen();
    int n = elements.dump(FAMILY, table, CLOSING, (k, kl, d, dl) -> {});
    if (ipv6) n += elements.dump(FAMILY, table, CLOSING6, (k, kl, d, dl) -> {});
    return n;
  }

  /** Number of frozen flows in the kernel's set right now. */
  public int frozenCount() throws LinuxException {
    checkOpen();
    int n = elements.dump(FAMILY, table, FROZEN, (k, kl, d, dl) -> {});
    if (ipv6) n += elements.dump(FAMILY, table, FROZEN6, (k, kl, d, dl) -> {});
    return n;
  }

  /**
   * Lets any thread that holds {@code lock} apply changes and dump the maps (instead of only the
   * thread that opened the table); opening, closing and deleting stay with the opening thread.
   */
  public void shareUnder(java.util.concurrent.locks.ReentrantLock lock) {
    elements.shareUnder(lock);
  }

  public String name() {
    return table;
  }

  /** Deletes the table (forwarding of every entry stops) and closes this object. */
  public void deleteTable() throws LinuxException {
    checkOpen();
    try {
      nft.run("delete table netdev " + table);
    } finally {
      close();
    }
  }

  /** Releases this object's kernel handles; the table and its entries stay in the kernel. */
  @Override
  public void close() throws LinuxException {
    if (closed) return;
    closed = true;
    try {
      elements.close();
    } finally {
      nft.close();
    }
  }

  /**
   * The entries of a table that is being replaced, in its shards or in the single "owner" map of
   * the first format: those of {@code vips} go into {@code carried} (to be put into the new table);
   * returns how many there were in all.
   */
  private int readTolerant(Collection<Vip> vips, FlowEntries carried) {
    java.util.Set<Long> kept = new java.util.HashSet<>();
    for (Vip v : vips) {
      if (!v.ipv6()) kept.add(((long) bits(v.address().getAddress(), 0) << 16) | v.port());
    }
    int[] n = {0};
    List<String> maps = new ArrayList<>(List.of(OWNER));
    maps.add("owner");
    for (String map : maps) {
      try {
        elements.dump(
            FAMILY,
            table,
            map,
            (key, keyLength, data, dataLength) -> {
              n[0]++;
              if (keyLength != 16 || dataLength != 4) return;
              int clientPort = port(key, 4);
              int localIp = bits(key, 8);
              int localPort = port(key, 12);
              if (clientPort == 0 || !kept.contains(((long) localIp << 16) | localPort)) return;
              carried.put(
                  bits(key, 0),
                  clientPort,
                  localIp,
                  localPort,
                  bits(data, 0),
                  ADOPTED_TOKEN,
                  ADOPTED_INSTALLED_NS);
            });
      } catch (LinuxException e) {
        // No such map in that table.
      }
    }
    try {
      n[0] += readIpv6(OWNER6, vips, carried);
    } catch (LinuxException e) {
      // The old table had no IPv6 part.
    }
    return n[0];
  }

  /**
   * {@code ruleset} with {@code entries} as the owner maps' elements (one transaction with the
   * table).
   */
  private static String withElements(String ruleset, FlowEntries entries) {
    if (entries.size() == 0) return ruleset;
    List<StringBuilder> perShard = new ArrayList<>();
    for (int i = 0; i < SHARDS; i++) perShard.add(new StringBuilder());
    StringBuilder v6 = new StringBuilder();
    entries.forEach(
        (flow, e) -> {
          StringBuilder b = flow.ipv6() ? v6 : perShard.get(flow.clientPort() & (SHARDS - 1));
          b.append(b.isEmpty() ? "" : ", ")
              .append(IpText.of(flow.clientIp()))
              .append(" . ")
              .append(flow.clientPort())
              .append(" . ")
              .append(IpText.of(flow.localIp()))
              .append(" . ")
              .append(flow.localPort())
              .append(" : ")
              .append(IpText.of(e.server()));
        });
    String type = " { type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr; }";
    String out = ruleset;
    if (!v6.isEmpty()) {
      String type6 = " { type " + TUPLE6 + " : ipv6_addr; }";
      out =
          out.replace(
              "  map " + OWNER6 + type6,
              "  map "
                  + OWNER6
                  + type6.substring(0, type6.length() - 2)
                  + " elements = { "
                  + v6
                  + " }; }");
    }
    for (int i = 0; i < SHARDS; i++) {
      if (perShard.get(i).isEmpty()) continue;
      out =
          out.replace(
              "  map " + OWNER[i] + type,
              "  map "
                  + OWNER[i]
                  + type.substring(0, type.length() - 2)
                  + " elements = { "
                  + perShard.get(i)
                  + " }; }");
    }
    return out;
  }

  private static Add addOwner(FlowKey flow, InetAddress server) {
    return new Add(ownerOf(flow), key(flow), value(server), null);
  }

  private static Add addLate(FlowKey flow, InetAddress server, Duration grace) {
    return new Add(late(flow), key(flow), value(server), grace);
  }

  private static byte[] value(InetAddress server) {
    return server instanceof Inet6Address s6
        ? NfSetElements.ipv6Value(s6)
        : NfSetElements.ipv4Value((Inet4Address) server);
  }

  private static Add addClosing(FlowKey flow, Duration grace) {
    return new Add(closing(flow), key(flow), null, grace);
  }

  /**
   * {@code flow}'s closing element with a fresh {@code grace}, whether or not one is there: add (a
   * no-op if it is), delete, add. (Adding an element that is there keeps its old timeout.)
   */
  private static List<Change> renewClosing(FlowKey flow, Duration grace) {
    return List.of(addClosing(flow, grace), delete(closing(flow), flow), addClosing(flow, grace));
  }

  private static Add addFrozen(FlowKey flow) {
    return new Add(frozen(flow), key(flow));
  }

  private static Delete delete(String set, FlowKey flow) {
    return new Delete(set, key(flow));
  }

  /** Applies {@code changes} to the kernel's sets in one atomic batch. */
  private void commit(List<? extends Change> changes) throws LinuxException {
    elements.apply(FAMILY, table, changes);
  }

  /**
   * Adds {@code add}'s element; if its key maps elsewhere (the kernel refuses that), replaces it.
   */
  private void putReplacing(Add add) throws LinuxException {
    try {
      commit(List.of(add));
    } catch (LinuxException e) {
      if (e.errno() != Errno.EBUSY && e.errno() != Errno.EEXIST) throw e;
      commit(List.of(new Delete(add.set(), add.key()), add));
    }
  }

  private void deleteTolerant(String set, FlowKey flow) throws LinuxException {
    try {
      commit(List.of(delete(set, flow)));
    } catch (LinuxException e) {
      if (e.errno() != Errno.ENOENT) throw e;
    }
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("forwarding table " + table + " is closed");
  }

  /** The 4-tuple key of {@code f}: 16 bytes for IPv4, 40 for IPv6. */
  static byte[] key(FlowKey f) {
    if (f.ipv6()) {
      return NfSetElements.fourTupleKey6(
          (Inet6Address) f.clientIp(), f.clientPort(), (Inet6Address) f.localIp(), f.localPort());
    }
    return NfSetElements.fourTupleKey(
        (Inet4Address) f.clientIp(), f.clientPort(), (Inet4Address) f.localIp(), f.localPort());
  }

  private static int bits(byte[] b, int at) {
    return (b[at] & 0xFF) << 24
        | (b[at + 1] & 0xFF) << 16
        | (b[at + 2] & 0xFF) << 8
        | (b[at + 3] & 0xFF);
  }

  private static int port(byte[] b, int at) {
    return (b[at] & 0xFF) << 8 | (b[at + 1] & 0xFF);
  }

  private static void check(Pattern p, String value, String what) {
    Objects.requireNonNull(value, what);
    if (!p.matcher(value).matches()) {
      throw new IllegalArgumentException("invalid " + what + ": '" + value + "'");
    }
  }
}
