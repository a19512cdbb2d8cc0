package io.baton.forwarding;

import io.baton.linux.Errno;
import io.baton.linux.LinuxException;
import io.baton.linux.NfSetElements;
import io.baton.linux.NfSetElements.Add;
import io.baton.linux.NfSetElements.Change;
import io.baton.linux.NfSetElements.Delete;
import io.baton.linux.Nftables;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The dispatcher's forwarding table in "direct" mode: an nftables netdev table on the front
 * interface. Its ingress map sends every later packet of a handed-off connection, unchanged, to
 * the owning server's MAC on the fabric ({@code fwd ip to ... device}); the kernel keeps
 * forwarding while the dispatcher process restarts. Entries expire by timeout as a safety net
 * and are removed when the owner reports the connection closed.
 *
 * <p>The egress chain drops everything the dispatcher's own kernel would still send on a
 * connection being handed off ("frozen"). Found on a real kernel: after the socket is frozen and
 * exported, pacing, tail-loss-probe and window-probe timers may still transmit never-sent
 * bytes. The client then acknowledges data the new owner believes unsent; the new owner discards
 * every such segment as "ACK of unsent data", including the client's data, and the connection
 * deadlocks. Dropping the old copy's output from before the export closes that window.
 *
 * <p>The table itself is made, listed and deleted through libnftables (rare, and easiest to read
 * in nft syntax); its elements change through nf_tables netlink ({@link NfSetElements}), a few
 * microseconds per change where libnftables spends hundreds re-reading its cache. Every call is
 * one atomic netlink batch; the nft binary is never run. Confined to the thread that created
 * it, which must be in the dispatcher's network namespace.
 */
public final class DirectForwardingTable implements AutoCloseable {
  private static final Pattern TABLE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,30}");
  private static final Pattern DEVICE = Pattern.compile("[a-zA-Z0-9_.-]{1,15}");
  /** Frozen entries only live for the length of a handoff; this is a safety net. */
  private static final int FROZEN_TIMEOUT_S = 60;
  private static final String FAMILY = "netdev";
  private static final String OWNER = "owner";
  private static final String FROZEN = "frozen";

  private final Nftables nft;
  private final NfSetElements elements;
  private final String table;
  // Keys this object has put in each map; guarded by confinement to the owner thread.
  private final Set<FlowKey> owned = new HashSet<>();
  private final Set<FlowKey> frozen = new HashSet<>();
  private boolean closed;

  private DirectForwardingTable(Nftables nft, NfSetElements elements, String table) {
    this.nft = nft;
    this.elements = elements;
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
            + "  set frozen { type ipv4_addr . inet_service; flags timeout; timeout "
            + FROZEN_TIMEOUT_S + "s; }\n"
            + "  chain ingress {\n"
            + "    type filter hook ingress device \"" + frontDevice + "\" priority 0; policy accept;\n"
            + "    ip daddr . tcp dport @vips fwd ip to ip saddr . tcp sport map @owner device \""
            + fabricDevice + "\"\n"
            + "  }\n"
            + "  chain egress {\n"
            + "    type filter hook egress device \"" + frontDevice + "\" priority 0; policy accept;\n"
            + "    ip saddr . tcp sport @vips ip daddr . tcp dport @frozen drop\n"
            + "  }\n"
            + "}\n";
    Nftables nft = Nftables.open();
    try {
      nft.run(batch);
      return new DirectForwardingTable(nft, NfSetElements.open(), table);
    } catch (LinuxException | RuntimeException e) {
      nft.close();
      throw e;
    }
  }

  /**
   * Start of a handoff, in one batch: drops whatever this host still sends on {@code flow} and
   * forwards the client's packets to {@code server} (its fabric address), whose guard drops
   * them until the restored socket exists. Call after freezing the socket, before exporting it.
   */
  public void freezeAndForward(FlowKey flow, Inet4Address server) throws LinuxException {
    checkOpen();
    try {
      List<Change> batch = new ArrayList<>(replaceOwner(flow, server));
      batch.add(addFrozen(flow));
      commit(batch);
    } catch (LinuxException e) {
      if (!isMissing(e)) throw e;
      // The entry this object had put expired meanwhile, so there is nothing to replace.
      commit(List.of(addOwner(flow, server), addFrozen(flow)));
    }
    owned.add(flow);
    frozen.add(flow);
  }

  /** One change of an {@link #apply} batch. */
  public sealed interface Op permits FreezeAndForward, Unfreeze, Cancel, Remove {
    FlowKey flow();
  }

  /** See {@link DirectForwardingTable#freezeAndForward}. */
  public record FreezeAndForward(FlowKey flow, Inet4Address server) implements Op {}

  /** See {@link DirectForwardingTable#unfreeze}. */
  public record Unfreeze(FlowKey flow) implements Op {}

  /** See {@link DirectForwardingTable#cancel}. */
  public record Cancel(FlowKey flow) implements Op {}

  /** See {@link DirectForwardingTable#remove}. */
  public record Remove(FlowKey flow) implements Op {}

  /**
   * Applies several changes in one atomic netlink batch: under load this is what keeps the
   * table's cost per handoff low (one kernel commit for many connections). If the batch fails
   * (an entry expired behind this object's back), each change is applied on its own, tolerantly.
   */
  public void apply(List<Op> ops) throws LinuxException {
    checkOpen();
    if (ops.isEmpty()) return;
    // Membership after the batch, for the flows it touches only: copying the whole sets per
    // batch made the owner thread's cost grow with the number of live connections.
    java.util.Map<FlowKey, Boolean> ownedAfter = new java.util.HashMap<>();
    java.util.Map<FlowKey, Boolean> frozenAfter = new java.util.HashMap<>();
    List<Change> batch = new ArrayList<>();
    for (Op op : ops) {
      FlowKey f = op.flow();
      boolean isOwned = ownedAfter.getOrDefault(f, owned.contains(f));
      boolean isFrozen = frozenAfter.getOrDefault(f, frozen.contains(f));
      switch (op) {
        case FreezeAndForward ff -> {
          if (isOwned) batch.add(delete(OWNER, f));
          batch.add(addOwner(f, ff.server()));
          if (!isFrozen) batch.add(addFrozen(f));
          ownedAfter.put(f, true);
          frozenAfter.put(f, true);
        }
        case Unfreeze u -> {
          if (isFrozen) batch.add(delete(FROZEN, f));
          frozenAfter.put(f, false);
        }
        case Cancel c -> {
          if (isFrozen) batch.add(delete(FROZEN, f));
          if (isOwned) batch.add(delete(OWNER, f));
          frozenAfter.put(f, false);
          ownedAfter.put(f, false);
        }
        case Remove r -> {
          if (isOwned) batch.add(delete(OWNER, f));
          ownedAfter.put(f, false);
        }
      }
    }
    if (batch.isEmpty()) return;
    try {
      commit(batch);
      ownedAfter.forEach((f, in) -> {
        if (in) owned.add(f);
        else owned.remove(f);
      });
      frozenAfter.forEach((f, in) -> {
        if (in) frozen.add(f);
        else frozen.remove(f);
      });
    } catch (LinuxException e) {
      for (Op op : ops) {
        switch (op) {
          case FreezeAndForward ff -> freezeAndForward(ff.flow(), ff.server());
          case Unfreeze u -> unfreeze(u.flow());
          case Cancel c -> cancel(c.flow());
          case Remove r -> remove(r.flow());
        }
      }
    }
  }

  /** The new owner has the connection and the old socket is closed: stop dropping its output. */
  public void unfreeze(FlowKey flow) throws LinuxException {
    checkOpen();
    if (frozen.remove(flow)) {
      deleteTolerant(FROZEN, flow);
    }
  }

  /** The handoff was abandoned: the connection continues here; remove both entries. */
  public void cancel(FlowKey flow) throws LinuxException {
    checkOpen();
    if (frozen.remove(flow)) deleteTolerant(FROZEN, flow);
    if (owned.remove(flow)) deleteTolerant(OWNER, flow);
  }

  /** Forwards {@code flow}'s packets to {@code server} from now on (replacing any entry). */
  public void put(FlowKey flow, Inet4Address server) throws LinuxException {
    checkOpen();
    try {
      commit(replaceOwner(flow, server));
    } catch (LinuxException e) {
      if (!isMissing(e)) throw e;
      commit(List.of(addOwner(flow, server)));
    }
    owned.add(flow);
  }

  /** Stops forwarding {@code flow}; packets then reach the local stack. Missing entries are fine. */
  public void remove(FlowKey flow) throws LinuxException {
    removeAll(List.of(flow));
  }

  /** Removes several entries in one batch; entries that already expired are ignored. */
  public void removeAll(Collection<FlowKey> flows) throws LinuxException {
    checkOpen();
    if (flows.isEmpty()) return;
    List<Change> deletes = new ArrayList<>(flows.size());
    for (FlowKey f : flows) deletes.add(delete(OWNER, f));
    try {
      commit(deletes);
    } catch (LinuxException e) {
      if (flows.size() > 1) {
        for (FlowKey f : flows) deleteTolerant(OWNER, f);
      } else if (!isMissing(e)) {
        throw e;
      }
    }
    owned.removeAll(flows);
  }

  /** Number of forwarding entries in the kernel's map right now. */
  public int size() throws LinuxException {
    return countElements("map", OWNER);
  }

  /** Number of frozen flows in the kernel's set right now. */
  public int frozenCount() throws LinuxException {
    return countElements("set", FROZEN);
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
      try {
        elements.close();
      } finally {
        nft.close();
      }
    }
  }

  private int countElements(String kind, String name) throws LinuxException {
    checkOpen();
    String out = nft.run("list " + kind + " netdev " + table + " " + name);
    int start = out.indexOf("elements = {");
    if (start < 0) return 0;
    String body = out.substring(start + "elements = {".length(), out.indexOf('}', start));
    return (int) java.util.Arrays.stream(body.split(",")).filter(s -> !s.isBlank()).count();
  }

  /** Replaces the owner entry atomically if this object put one, else adds it. */
  private List<Change> replaceOwner(FlowKey flow, Inet4Address server) {
    if (!owned.contains(flow)) return List.of(addOwner(flow, server));
    return List.of(delete(OWNER, flow), addOwner(flow, server));
  }

  private static Add addOwner(FlowKey flow, Inet4Address server) {
    // No timeout of its own: the map's default (the configured entry timeout) applies.
    return new Add(OWNER, key(flow), NfSetElements.ipv4Value(server), null);
  }

  private static Add addFrozen(FlowKey flow) {
    return new Add(FROZEN, key(flow));
  }

  private static Delete delete(String set, FlowKey flow) {
    return new Delete(set, key(flow));
  }

  /** Applies {@code changes} to the kernel's sets in one atomic batch. */
  private void commit(List<? extends Change> changes) throws LinuxException {
    elements.apply(FAMILY, table, changes);
  }

  private void deleteTolerant(String set, FlowKey flow) throws LinuxException {
    try {
      commit(List.of(delete(set, flow)));
    } catch (LinuxException e) {
      if (!isMissing(e)) throw e;
    }
  }

  /** ENOENT: the element is not in the kernel's set, typically because it expired meanwhile. */
  private static boolean isMissing(LinuxException e) {
    return e.errno() == Errno.ENOENT;
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("forwarding table " + table + " is closed");
  }

  /** The {@code ipv4_addr . inet_service} key of the client's side of {@code f}. */
  private static byte[] key(FlowKey f) {
    return NfSetElements.ipv4AndPortKey(f.clientIp(), f.clientPort());
  }

  private static void check(Pattern p, String value, String what) {
    Objects.requireNonNull(value, what);
    if (!p.matcher(value).matches()) {
      throw new IllegalArgumentException("invalid " + what + ": '" + value + "'");
    }
  }
}
