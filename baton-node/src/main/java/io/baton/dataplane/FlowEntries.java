package io.baton.dataplane;

import io.baton.linux.IpText;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;
import java.util.function.Consumer;

/**
 * The dispatcher's forwarding entries as Java sees them: a map from a connection's IPv4 4-tuple to
 * the server that owns it, the token of the handoff that installed the entry, when it was
 * installed. Built to track a million connections: 40 bytes of heap per entry by arithmetic (four
 * longs and the index), measured at a million with G1 in {@code bench/README.md}, where a {@code
 * HashMap<FlowKey, record>} takes 184 (a node, a key record, the client's {@code Inet4Address} and
 * its holder, a value record, the table).
 *
 * <p>Layout: entries lie densely in pages of {@code long}s, four per entry (client and local
 * address; client port, local port and server number; token; installation time), so a million
 * entries are 245 arrays, never one huge copy when it grows. An open-addressing index ({@code
 * int[]}, linear probing, at most 3/4 full) maps a key's hash to its entry's position + 1. Removing
 * an entry moves the last one into its place, so the pages never have holes, and empties its index
 * slot by backward shift, so there are no tombstones: lookups stay short however many entries come
 * and go. Servers are numbered by a {@link ServerIndex}.
 *
 * <p>IPv6 flows live in a separate, plain store ({@link FlowEntries6}) so the IPv4 layout stays as
 * measured; every method here covers both.
 *
 * <p>Not thread-safe: the forwarding service touches it only under its guard. The callbacks of
 * {@link #forEach} and {@link #removeIf} must not change this map.
 */
public final class FlowEntries {
  /**
   * What the map holds for a flow: the server's fabric address (of the flow's family: {@code fwd ip
   * to} and {@code fwd ip6 to} need one), the token of the handoff that installed it and when.
   */
  public record Entry(InetAddress server, long token, long installedNs) {
    public Entry {
      Objects.requireNonNull(server, "server");
      if (!(server instanceof Inet4Address) && !(server instanceof Inet6Address)) {
        throw new IllegalArgumentException("server must be an IP address: " + server);
      }
    }
  }

  private static final int PAGE_SHIFT = 12;
  private static final int PAGE_ENTRIES = 1 << PAGE_SHIFT;
  private static final int PAGE_MASK = PAGE_ENTRIES - 1;
  private static final int STRIDE = 4;
  // Word offsets inside an entry.
  private static final int ADDRESSES = 0; // client address << 32 | local address
  private static final int PORTS_SERVER = 1; // client port << 48 | local port << 32 | server number
  private static final int TOKEN = 2;
  private static final int INSTALLED = 3;
  private static final int MIN_INDEX = 16;

  private final ServerIndex servers = new ServerIndex();
  // Local (virtual) addresses: a handful, shared by every FlowKey this map hands out.
  private final ServerIndex locals = new ServerIndex();
  private long[][] pages = new long[0][];
  private int[] index = new int[MIN_INDEX];
  private int size;
  private final FlowEntries6 v6 = new FlowEntries6();

  /** Number of entries. */
  public int size() {
    return size + v6.size();
  }

  public boolean isEmpty() {
    return size() == 0;
  }

  /** The entry of {@code flow}, or {@code null}. */
  public Entry get(FlowKey flow) {
    if (flow.ipv6()) return v6.get(flow);
    int slot = find(addresses(flow), ports(flow));
    return slot < 0 ? null : entry(index[slot] - 1);
  }

  public boolean containsKey(FlowKey flow) {
    if (flow.ipv6()) return v6.get(flow) != null;
    return find(addresses(flow), ports(flow)) >= 0;
  }

  /** Maps {@code flow} to {@code entry}; returns the entry it replaced, or {@code null}. */
  public Entry put(FlowKey flow, Entry entry) {
    if (!flow.ipv6() && entry.server() instanceof Inet6Address) {
      throw new IllegalArgumentException(
          "flow "
              + flow
              + " cannot be forwarded to "
              + IpText.of(entry.server())
              + ": an IPv4 flow goes to an IPv4 fabric address (an IPv6 one to an IPv6 address,"
              + " or wrapped to an IPv4 one)");
    }
    if (flow.ipv6()) return v6.put(flow, entry);
    long addresses = addresses(flow);
    long ports = ports(flow);
    int slot = find(addresses, ports);
    Entry old = slot < 0 ? null : entry(index[slot] - 1);
    put(
        addresses,
        ports,
        servers.indexOf((Inet4Address) entry.server()),
        entry.token(),
        entry.installedNs());
    return old;
  }

  /**
   * Maps the flow {@code clientIp:clientPort -> localIp:localPort} (addresses as ints in network
   * order) to the server {@code serverBits}, without allocating: how a dump from the kernel is read
   * in. Replaces an entry of the same flow.
   */
  public void put(
      int clientIp,
      int clientPort,
      int localIp,
      int localPort,
      int serverBits,
      long token,
      long installedNs) {
    long addresses = (long) clientIp << 32 | (localIp & 0xFFFF_FFFFL);
    put(
        addresses,
        ports(clientPort, localPort),
        servers.indexOfBits(serverBits),
        token,
        installedNs);
  }

  private void put(long addresses, long ports, int server, long token, long installedNs) {
    int slot = find(addresses, ports);
    int position;
    if (slot >= 0) {
      position = index[slot] - 1;
      servers.removed(serverAt(position));
    } else {
      if ((size + 1) * 4L > index.length * 3L) {
        rehash(index.length * 2);
        slot = find(addresses, ports);
      }
      position = size++;
      int page = position >>> PAGE_SHIFT;
      if (page == pages.length) {
        pages = Arrays.copyOf(pages, page + 1);
      }
      if (pages[page] == null) pages[page] = new long[PAGE_ENTRIES * STRIDE];
      index[~slot] = position + 1;
    }
    long[] p = pages[position >>> PAGE_SHIFT];
    int at = (position & PAGE_MASK) * STRIDE;
    p[at + ADDRESSES] = addresses;
    p[at + PORTS_SERVER] = ports | (server & 0xFFFF_FFFFL);
    p[at + TOKEN] = token;
    p[at + INSTALLED] = installedNs;
    servers.added(server);
  }

  /** Removes the entry of {@code flow}; returns it, or {@code null} if there was none. */
  public Entry remove(FlowKey flow) {
    if (flow.ipv6()) return v6.remove(flow);
    int slot = find(addresses(flow), ports(flow));
    if (slot < 0) return null;
    Entry old = entry(index[slot] - 1);
    removeSlot(slot);
    return old;
  }

  /** Calls {@code action} with every entry, in no particular order. */
  public void forEach(BiConsumer<? super FlowKey, ? super Entry> action) {
    for (int position = 0; position < size; position++)
      action.accept(flowAt(position), entry(position));
    v6.forEach(action);
  }

  /**
   * Removes every entry forwarding to {@code server} for which {@code test} holds, telling {@code
   * removed} each flow it removes; returns how many. Entries of other servers are skipped without
   * building their key, so dropping one server's entries among a million costs allocations for its
   * own only.
   */
  public int removeIf(
      InetAddress server,
      BiPredicate<? super FlowKey, ? super Entry> test,
      Consumer<? super FlowKey> removed) {
    // IPv6 flows may forward to an IPv4 server too (wrapped).
    int n = v6.removeIf(server, test, removed);
    if (server instanceof Inet6Address) return n;
    int number = servers.find((Inet4Address) server);
    if (number < 0 || servers.entries(number) == 0) return n;
    // Backwards: a removal moves the last entry, already visited, into the hole.
    for (int position = size - 1; position >= 0; position--) {
      if (serverAt(position) != number) continue;
      FlowKey flow = flowAt(position);
      if (!test.test(flow, entry(position))) continue;
      removeSlot(slotOf(position));
      removed.accept(flow);
      n++;
    }
    return n;
  }

  /** Servers that at least one entry forwards to. */
  public Set<InetAddress> servers() {
    Set<InetAddress> out = new LinkedHashSet<>(servers.withEntries());
    out.addAll(v6.servers());
    return out;
  }

  /** Number of entries forwarding to {@code server}. */
  public long entriesOf(InetAddress server) {
    long n = v6.entriesOf(server);
    if (server instanceof Inet6Address) return n;
    int number = servers.find((Inet4Address) server);
    return n + (number < 0 ? 0 : servers.entries(number));
  }

  /**
   * The index slot of the key, or {@code ~slot} of the empty slot where it would go. Linear
   * probing: the key is in the run of full slots starting at its home slot, if anywhere.
   */
  private int find(long addresses, long ports) {
    int mask = index.length - 1;
    for (int s = home(addresses, ports, mask); ; s = (s + 1) & mask) {
      int v = index[s];
      if (v == 0) return ~s;
      int at = ((v - 1) & PAGE_MASK) * STRIDE;
      long[] p = pages[(v - 1) >>> PAGE_SHIFT];
      if (p[at + ADDRESSES] == addresses && (p[at + PORTS_SERVER] & ~0xFFFF_FFFFL) == ports)
        return s;
    }
  }

  /** The index slot that points at {@code position}. */
  private int slotOf(int position) {
    int mask = index.length - 1;
    for (int s = homeOf(position, mask); ; s = (s + 1) & mask) {
      if (index[s] == position + 1) return s;
    }
  }

  /**
   * Removes the entry that index slot {@code slot} points to: backward-shift deletion in the index,
   * then the last entry moves into the freed position.
   */
  private void removeSlot(int slot) {
    int position = index[slot] - 1;
    servers.removed(serverAt(position));
    int mask = index.length - 1;
    int hole = slot;
    for (int i = (hole + 1) & mask; index[i] != 0; i = (i + 1) & mask) {
      int home = homeOf(index[i] - 1, mask);
      // The entry at i may fill the hole if the hole lies on its probe path, home .. i.
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        index[hole] = index[i];
        hole = i;
      }
    }
    index[hole] = 0;
    int last = --size;
    if (position != last) {
      int lastSlot = slotOf(last);
      System.arraycopy(
          pages[last >>> PAGE_SHIFT],
          (last & PAGE_MASK) * STRIDE,
          pages[position >>> PAGE_SHIFT],
          (position & PAGE_MASK) * STRIDE,
          STRIDE);
      index[lastSlot] = position + 1;
    }
    // Keep one spare page so that an entry coming and going at a page boundary allocates nothing.
    int usedPages = (size + PAGE_MASK) >>> PAGE_SHIFT;
    if (usedPages + 2 <= pages.length && pages[usedPages + 1] != null) {
      for (int i = usedPages + 1; i < pages.length; i++) pages[i] = null;
    }
    if (index.length > MIN_INDEX && size * 8L < index.length) rehash(index.length / 2);
  }

  private void rehash(int capacity) {
    index = new int[capacity];
    int mask = capacity - 1;
    for (int position = 0; position < size; position++) {
      int s = homeOf(position, mask);
      while (index[s] != 0) s = (s + 1) & mask;
      index[s] = position + 1;
    }
  }

  private int homeOf(int position, int mask) {
    long[] p = pages[position >>> PAGE_SHIFT];
    int at = (position & PAGE_MASK) * STRIDE;
    return home(p[at + ADDRESSES], p[at + PORTS_SERVER] & ~0xFFFF_FFFFL, mask);
  }

  private static int home(long addresses, long ports, int mask) {
    // murmur3's 64-bit finalizer: every key bit reaches the low bits the mask keeps.
    long h = addresses * 0x9E3779B97F4A7C15L ^ ports;
    h ^= h >>> 33;
    h *= 0xFF51AFD7ED558CCDL;
    h ^= h >>> 33;
    h *= 0xC4CEB9FE1A85EC53L;
    h ^= h >>> 33;
    return (int) h & mask;
  }

  private int serverAt(int position) {
    return (int) pages[position >>> PAGE_SHIFT][(position & PAGE_MASK) * STRIDE + PORTS_SERVER];
  }

  private Entry entry(int position) {
    long[] p = pages[position >>> PAGE_SHIFT];
    int at = (position & PAGE_MASK) * STRIDE;
    return new Entry(servers.address((int) p[at + PORTS_SERVER]), p[at + TOKEN], p[at + INSTALLED]);
  }

  private FlowKey flowAt(int position) {
    long[] p = pages[position >>> PAGE_SHIFT];
    int at = (position & PAGE_MASK) * STRIDE;
    long a = p[at + ADDRESSES];
    long ports = p[at + PORTS_SERVER];
    Inet4Address local = locals.address(locals.indexOfBits((int) a));
    return new FlowKey(
        ServerIndex.toAddress((int) (a >>> 32)),
        (int) (ports >>> 48),
        local,
        (int) (ports >>> 32) & 0xFFFF);
  }

  private static long addresses(FlowKey flow) {
    return (long) ServerIndex.bitsOf((Inet4Address) flow.clientIp()) << 32
        | (ServerIndex.bitsOf((Inet4Address) flow.localIp()) & 0xFFFF_FFFFL);
  }

  private static long ports(FlowKey flow) {
    return ports(flow.clientPort(), flow.localPort());
  }

  private static long ports(int clientPort, int localPort) {
    return (long) (clientPort & 0xFFFF) << 48 | (long) (localPort & 0xFFFF) << 32;
  }
}
