package io.baton.dispatcher;

import io.baton.dataplane.Vip;
import io.baton.linux.LinuxException;
import io.baton.routing.Member;
import io.baton.routing.PickContext;
import io.baton.routing.Pool;
import java.net.Inet4Address;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher's UDP flows ({@code mode: udp} VIPs): a flow is a client address and port sending
 * to a VIP and port. Its first datagram reaches the dispatcher's socket on the VIP; the dispatcher
 * picks a server of the VIP's pool (policy and farm state, as for a TCP handoff), installs the
 * flow's entry in the kernel's flow map, and passes that datagram on to the server itself,
 * encapsulated. Every later datagram of the flow is forwarded by the kernel and never reaches this
 * process; the server answers from the VIP directly.
 *
 * <p>A flow ends when it has been idle for {@code idleNs} (the kernel stamps each forwarded
 * datagram; {@link #sweep} reads the stamps) or when its server is lost ({@link #serverLost}): the
 * next datagram is then a new flow, picked afresh.
 *
 * <p>Thread-safe: datagrams arrive on event loops, the sweep and server news on other threads.
 */
public final class UdpFlows {
  private static final Logger log = LoggerFactory.getLogger(UdpFlows.class);

  /** A client address and port sending to a VIP and port. Immutable. */
  public record Flow(java.net.InetAddress client, int clientPort, Vip vip) {
    @Override
    public String toString() {
      return "udp " + io.baton.linux.IpText.withPort(client, clientPort) + "->" + vip;
    }
  }

  /** The kernel's flow map, as this class needs it (a fake in unit tests). */
  public interface Table {
    /** Installs {@code flow} -> {@code server}, encapsulated or not; replaces an older entry. */
    void put(Flow flow, Inet4Address server, boolean encap, int connectionId) throws LinuxException;

    /** Removes {@code flow}'s entry; nothing if it has none. */
    void remove(Flow flow) throws LinuxException;

    /**
     * The time the kernel last forwarded a datagram of each UDP flow it holds (the nanosecond clock
     * this class is given, 0 when it forwarded none yet).
     */
    void lastSeen(java.util.function.ObjLongConsumer<Flow> each) throws LinuxException;
  }

  /** Sends a flow's datagram to a server, encapsulated (a fake in unit tests). */
  public interface Sender {
    void send(Flow flow, Inet4Address server, int connectionId, byte[] datagram);
  }

  /** A flow's server, and when it was assigned. */
  public record Assignment(String node, Inet4Address server, int connectionId, long assignedNs) {}

  /** What happened to UDP flows; thread-safe counters. */
  public static final class Stats {
    public final LongAdder assigned = new LongAdder();
    public final LongAdder expired = new LongAdder();
    public final LongAdder lostWithServer = new LongAdder();
    public final LongAdder unavailable = new LongAdder();
    public final LongAdder firstDatagrams = new LongAdder();
    public final LongAdder tableFailures = new LongAdder();
  }

  private final Table table;
  private final Sender sender;
  private final LongSupplier clock;
  private final long idleNs;
  private final Predicate<String> reachable;
  private final ServerEligibility eligibility;
  private final Predicate<Inet4Address> encap;
  private final Map<Flow, Assignment> flows = new ConcurrentHashMap<>();
  private final Stats stats = new Stats();
  private final java.util.concurrent.atomic.AtomicInteger nextId =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * @param reachable whether a server's fabric session is up now (a server that is down gets no
   *     flow)
   * @param encap whether a server's packets go encapsulated (its pool's {@code forwarding})
   */
  public UdpFlows(
      Table table,
      Sender sender,
      LongSupplier clock,
      java.time.Duration idle,
      Predicate<String> reachable,
      ServerEligibility eligibility,
      Predicate<Inet4Address> encap) {
    this.table = table;
    this.sender = sender;
    this.clock = clock;
    this.idleNs = idle.toNanos();
    this.reachable = reachable;
    this.eligibility = eligibility;
    this.encap = encap;
  }

  public Stats stats() {
    return stats;
  }

  /** Flows now, by server node name. */
  public Map<String, Integer> perServer() {
    Map<String, Integer> n = new HashMap<>();
    flows.values().forEach(a -> n.merge(a.node(), 1, Integer::sum));
    return n;
  }

  public int size() {
    return flows.size();
  }

  /** A flow and its assignment. */
  public record Listed(Flow flow, Assignment assignment) {}

  /** At most {@code limit} flows now, in no particular order. */
  public java.util.List<Listed> list(int limit) {
    return flows.entrySet().stream()
        .limit(limit)
        .map(e -> new Listed(e.getKey(), e.getValue()))
        .toList();
  }

  /** The assignment of {@code flow}, if it has one. */
  public Optional<Assignment> assignment(Flow flow) {
    return Optional.ofNullable(flows.get(flow));
  }

  /**
   * A datagram of {@code flow} reached the dispatcher: the flow's first, or one that overtook its
   * entry. Assigns the flow if it is new and sends the datagram to its server. Returns the server's
   * node name, or empty when no server of {@code pool} can take it (the datagram is dropped: UDP
   * has no way to answer "unavailable", and the client's retry will be picked afresh).
   */
  public Optional<String> datagram(Flow flow, Pool pool, byte[] datagram) {
    Assignment a = flows.get(flow);
    if (a == null) {
      a = assign(flow, pool);
      if (a == null) {
        stats.unavailable.increment();
        return Optional.empty();
      }
    }
    stats.firstDatagrams.increment();
    sender.send(flow, a.server(), a.connectionId(), datagram);
    return Optional.of(a.node());
  }

  private Assignment assign(Flow flow, Pool pool) {
    Set<String> tried = new HashSet<>();
    PickContext ctx = new PickContext(flow.client(), Optional.empty(), Optional.empty());
    while (true) {
      Optional<Member> candidate = pool.pick(ctx, tried);
      if (candidate.isEmpty()) {
        log.debug("{}: no server of pool {} can take it (tried {})", flow, pool.name(), tried);
        return null;
      }
      Member m = candidate.get();
      tried.add(m.node());
      // A dispatcher's own socket holds the VIP here: this node cannot serve the flow itself.
      if (m.local() || eligibility.refusal(m.node()) != null || !reachable.test(m.node())) {
        continue;
      }
      // UDP flows are IPv4 (the config gives udp VIPs only pools with IPv4 fabric addresses).
      if (!(m.fabricAddress() instanceof Inet4Address server)) continue;
      int id = nextId.incrementAndGet();
      Assignment a = new Assignment(m.node(), server, id, clock.getAsLong());
      Assignment raced = flows.putIfAbsent(flow, a);
      if (raced != null) return raced; // another loop assigned it meanwhile
      try {
        table.put(flow, server, encap.test(server), id);
      } catch (LinuxException e) {
        // Without the entry every datagram would come here; the flow stays assigned in memory
        // only, and each datagram is passed on by this process until the entry can be made.
        stats.tableFailures.increment();
        log.warn("{}: cannot install its flow entry: {}", flow, e.getMessage());
      }
      stats.assigned.increment();
      log.debug("{}: assigned to {}", flow, m.node());
      return a;
    }
  }

  /**
   * Ends the flows idle for longer than the idle time: their entries leave the kernel. Call
   * periodically (a fraction of the idle time).
   */
  public void sweep() throws LinuxException {
    long now = clock.getAsLong();
    Map<Flow, Long> seen = new HashMap<>();
    table.lastSeen(seen::put);
    for (var e : flows.entrySet()) {
      Assignment a = e.getValue();
      long last = Math.max(a.assignedNs(), seen.getOrDefault(e.getKey(), 0L));
      if (now - last > idleNs && flows.remove(e.getKey(), a)) {
        table.remove(e.getKey());
        stats.expired.increment();
      }
    }
    // Entries the kernel holds that this process does not know (an earlier process's): adopt none,
    // they are picked afresh on their next datagram.
    for (Flow f : seen.keySet()) {
      if (!flows.containsKey(f)) table.remove(f);
    }
  }

  /** {@code node} is gone: its flows end, and their next datagrams are picked afresh. */
  public int serverLost(String node) {
    int n = 0;
    for (var e : flows.entrySet()) {
      if (e.getValue().node().equals(node) && flows.remove(e.getKey(), e.getValue())) {
        try {
          table.remove(e.getKey());
        } catch (LinuxException ex) {
          stats.tableFailures.increment();
          log.warn("{}: cannot remove its flow entry: {}", e.getKey(), ex.getMessage());
        }
        n++;
      }
    }
    stats.lostWithServer.add(n);
    return n;
  }
}
