package io.baton.forwarding;

import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The dispatcher's forwarding table in "direct" mode: an nftables netdev table on the front
 * interface's ingress hook whose map sends every later packet of a handed-off connection,
 * unchanged, to the owning server's MAC on the fabric ({@code fwd ip to ... device}). The kernel
 * keeps forwarding while the dispatcher process restarts; entries expire by timeout as a safety
 * net and are removed when the owner reports the connection closed.
 *
 * <p>Programmed through libnftables (one netlink batch per call, never the nft binary).
 * Confined to the thread that created it, which must be in the dispatcher's network namespace.
 */
public final class DirectForwardingTable implements AutoCloseable {
  private static final Pattern TABLE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,30}");
  private static final Pattern DEVICE = Pattern.compile("[a-zA-Z0-9_.-]{1,15}");

  private final Nftables nft;
  private final String table;
  private final java.util.Set<FlowKey> present = new java.util.HashSet<>();
  private boolean closed;

  private DirectForwardingTable(Nftables nft, String table) {
    this.nft = nft;
    this.table = table;
  }

  /**
   * Creates (replacing any stale table of the same name, atomically) the table that forwards
   * packets for {@code vips} arriving on {@code frontDevice} out of {@code fabricDevice}.
   */
  public static DirectForwardingTable create(
      String table, String frontDevice, String fabricDevice, Collection<Vip> vips, Duration entryTimeout)
      throws LinuxException {
    check(TABLE_NAME, table, "table name");
    check(DEVICE, frontDevice, "front device");
    check(DEVICE, fabricDevice, "fabric device");
    if (vips.isEmpty()) throw new IllegalArgumentException("no VIPs to forward");
    long timeoutS = Math.max(1, entryTimeout.toSeconds());
    String vipList = vips.stream().map(Vip::toNft).collect(Collectors.joining(", "));
    String batch =
        "table netdev " + table + "\n"
            + "delete table netdev " + table + "\n"
            + "table netdev " + table + " {\n"
            + "  set vips { type ipv4_addr . inet_service; elements = { " + vipList + " } }\n"
            + "  map owner { type ipv4_addr . inet_service : ipv4_addr; flags timeout; timeout "
            + timeoutS + "s; }\n"
            + "  chain ingress {\n"
            + "    type filter hook ingress device \"" + frontDevice + "\" priority 0; policy accept;\n"
            + "    ip daddr . tcp dport @vips fwd ip to ip saddr . tcp sport map @owner device \""
            + fabricDevice + "\"\n"
            + "  }\n"
            + "}\n";
    Nftables nft = Nftables.open();
    try {
      nft.run(batch);
    } catch (LinuxException e) {
      nft.close();
      throw e;
    }
    return new DirectForwardingTable(nft, table);
  }

  /** Forwards {@code flow}'s packets to {@code server} (its fabric address) from now on. */
  public void put(FlowKey flow, Inet4Address server) throws LinuxException {
    putAll(Map.of(flow, server));
  }

  /**
   * Adds or replaces several entries in one batch. Entries this table believes present are
   * deleted and re-added in the same atomic batch, so no packet sees a gap; if one of them had
   * meanwhile expired, the batch is retried per entry.
   */
  public void putAll(Map<FlowKey, Inet4Address> entries) throws LinuxException {
    checkOpen();
    if (entries.isEmpty()) return;
    StringBuilder batch = new StringBuilder();
    for (var e : entries.entrySet()) {
      if (present.contains(e.getKey())) {
        batch.append(deleteCommand(List.of(e.getKey())));
      }
      batch.append("add element netdev ").append(table).append(" owner { ")
          .append(key(e.getKey())).append(" : ").append(e.getValue().getHostAddress())
          .append(" }\n");
    }
    try {
      nft.run(batch.toString());
    } catch (LinuxException e) {
      if (entries.size() == 1 && !present.contains(entries.keySet().iterator().next())) {
        // A stale entry from an earlier owner object: replace it.
        FlowKey flow = entries.keySet().iterator().next();
        nft.run(deleteCommand(List.of(flow)) + "add element netdev " + table + " owner { "
            + key(flow) + " : " + entries.get(flow).getHostAddress() + " }\n");
      } else if (entries.size() == 1) {
        present.remove(entries.keySet().iterator().next());
        putAll(entries);
        return;
      } else {
        for (var one : entries.entrySet()) {
          putAll(Map.of(one.getKey(), one.getValue()));
        }
        return;
      }
    }
    present.addAll(entries.keySet());
  }

  /** Stops forwarding {@code flow}; packets then reach the local stack. Missing entries are fine. */
  public void remove(FlowKey flow) throws LinuxException {
    removeAll(List.of(flow));
  }

  /** Removes several entries in one batch; entries that already expired are ignored. */
  public void removeAll(Collection<FlowKey> flows) throws LinuxException {
    checkOpen();
    if (flows.isEmpty()) return;
    try {
      nft.run(deleteCommand(flows));
    } catch (LinuxException e) {
      if (flows.size() > 1) {
        for (FlowKey f : flows) removeAll(List.of(f));
      } else if (!e.getMessage().contains("No such file or directory")) {
        throw e;
      }
    }
    present.removeAll(flows);
  }

  private String deleteCommand(Collection<FlowKey> flows) {
    String keys = flows.stream().map(DirectForwardingTable::key).collect(Collectors.joining(", "));
    return "delete element netdev " + table + " owner { " + keys + " }\n";
  }

  /** Number of entries in the map right now (reads the kernel's table). */
  public int size() throws LinuxException {
    checkOpen();
    String out = nft.run("list map netdev " + table + " owner");
    int start = out.indexOf("elements = {");
    if (start < 0) return 0;
    String body = out.substring(start, out.indexOf('}', start));
    return (int) body.chars().filter(c -> c == ':').count();
  }

  public String name() {
    return table;
  }

  /** Deletes the table; forwarding of every entry stops. */
  @Override
  public void close() throws LinuxException {
    if (closed) return;
    closed = true;
    try {
      nft.run("delete table netdev " + table);
    } finally {
      nft.close();
    }
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("forwarding table " + table + " is closed");
  }

  private static String key(FlowKey f) {
    return f.clientIp().getHostAddress() + " . " + f.clientPort();
  }

  private static void check(Pattern p, String value, String what) {
    Objects.requireNonNull(value, what);
    if (!p.matcher(value).matches()) {
      throw new IllegalArgumentException("invalid " + what + ": '" + value + "'");
    }
  }
}
