package io.baton.dataplane;

import io.baton.dataplane.DirectForwardingTable.Forward;
import io.baton.dataplane.DirectForwardingTable.Op;
import io.baton.dataplane.DirectForwardingTable.Retire;
import io.baton.dataplane.DirectForwardingTable.Unforward;
import io.baton.linux.LinuxException;
import io.baton.log.RateLimitedLog;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the nftables table's TCP forwarding entries into the BPF flow map, which sees each packet
 * first: entries of servers behind a router ({@code forwarding: encap}) are wrapped there, the
 * others go unchanged to the server's fabric address. The nftables table stays the one record of
 * every connection (it outlives the process and is adopted at restart, reconciled with servers'
 * inventories, replicated between dispatchers); this class follows its changes as they commit.
 *
 * <ul>
 *   <li>a forward puts the entry;
 *   <li>a close (retire) removes a direct entry: its late FIN and ACKs then meet the nftables
 *       table's late map. An encapsulated one is marked closing instead (nftables cannot wrap): its
 *       late packets are still wrapped and sent on, and a SYN on the 4-tuple deletes it in the
 *       kernel (as the nftables {@code closing} set does); after the close grace it goes ({@link
 *       #expire});
 *   <li>an unforward (cancel, dead server, reconciliation) removes it.
 * </ul>
 *
 * <p><b>Ahead of the commit.</b> A handoff's forward is put into the map at once ({@link
 * #putAhead}, one {@code bpf(2)} call), so the handoff goes on without waiting for the nf_tables
 * commit, which follows at the end of its event loop's turn. The map must still end in the state of
 * the last change planned for the flow. Changes reach {@link #applied} in the order they were
 * planned (each plan and its commit happen in one hold of the service's guard), and the entry put
 * ahead is newer than every change planned before its own forward: so until that forward arrives
 * ({@link #claim} names it when it is planned), the flow's changes are skipped. A close of the
 * 4-tuple's previous connection reported just before would otherwise mark the new entry closing.
 *
 * <p>Thread-safe (guarded by {@code this}): {@link #applied}, {@link #expire} and {@link #adopt}
 * run under the service's guard, {@link #putAhead} on event loops without it.
 */
final class FlowMirror {
  private static final Logger log = LoggerFactory.getLogger(FlowMirror.class);
  private static final RateLimitedLog failureLog = new RateLimitedLog(log, "flow map changes", 5);

  /** The TCP entries of the flow map ({@link FlowForwarding} in production). */
  interface TcpFlows {
    void putTcp(FlowKey flow, InetAddress server, boolean encap, boolean closing, int connectionId)
        throws LinuxException;

    boolean removeTcp(FlowKey flow) throws LinuxException;
  }

  private final TcpFlows flows;
  private final Predicate<InetAddress> encap;
  private final Map<FlowKey, Long> closingUntil = new HashMap<>();
  private final ArrayDeque<Map.Entry<FlowKey, Long>> closings = new ArrayDeque<>();

  /** Flows put ahead: their {@link Ahead} until their forward is planned, then that forward. */
  private final Map<FlowKey, Object> ahead = new HashMap<>();

  /** A handoff's forward put into the map, whose nftables change is not planned yet. */
  static final class Ahead {
    final FlowKey flow;
    final InetAddress server;
    final long token;
    private boolean planned; // guarded by the mirror

    private Ahead(FlowKey flow, InetAddress server, long token) {
      this.flow = flow;
      this.server = server;
      this.token = token;
    }
  }

  private int nextId;
  private long failures;
  private long putAhead;

  FlowMirror(TcpFlows flows, Predicate<InetAddress> encap) {
    this.flows = flows;
    this.encap = encap;
  }

  /**
   * Whether the map can forward {@code flow} to {@code server}: wrapped to an IPv4 fabric address
   * (an IPv6 client's packets too), or unchanged to a fabric address of the flow's family.
   */
  boolean mirrors(FlowKey flow, InetAddress server) {
    if (encap.test(server)) return server instanceof Inet4Address;
    return flow.ipv6() == (server instanceof Inet6Address);
  }

  synchronized void adopt(FlowEntries entries) {
    entries.forEach(
        (flow, e) -> {
          if (mirrors(flow, e.server())) put(flow, e.server(), false);
        });
  }

  /**
   * A handoff's forward ({@code token}), before it is planned: puts the entry now. Returns what
   * {@link #startPlanning} and {@link #claim} take when the forward is planned, or null if the map
   * did not take it (the caller then waits for the commit).
   */
  synchronized Ahead putAhead(FlowKey flow, InetAddress server, long token) {
    if (!mirrors(flow, server)) return null;
    try {
      flows.putTcp(flow, server, encap.test(server), false, ++nextId);
    } catch (LinuxException e) {
      failures++;
      // An earlier forward put ahead is superseded either way: let its changes through again.
      ahead.remove(flow);
      failureLog.warn(
          "{}: cannot put its forwarding entry into the BPF flow map ({}); waiting for the"
              + " nftables commit instead",
          flow,
          e.getMessage());
      return null;
    }
    putAhead++;
    closingUntil.remove(flow);
    Ahead a = new Ahead(flow, server, token);
    ahead.put(flow, a);
    return a;
  }

  /**
   * The forward put ahead as {@code a} is being planned: true the first time. A change of the flow
   * that must follow it may plan it earlier than its own batch ({@link #unplanned}); that batch
   * then plans nothing.
   */
  synchronized boolean startPlanning(Ahead a) {
    if (a.planned) return false;
    a.planned = true;
    return true;
  }

  /**
   * The forward of handoff {@code token} on {@code flow}, put ahead and not planned yet; or null.
   */
  synchronized Ahead unplanned(FlowKey flow, long token) {
    return ahead.get(flow) instanceof Ahead a && !a.planned && a.token == token ? a : null;
  }

  /** The forwards to {@code server} put ahead and not planned yet. */
  synchronized java.util.List<Ahead> unplannedTo(InetAddress server) {
    var out = new java.util.ArrayList<Ahead>();
    for (Object o : ahead.values()) {
      if (o instanceof Ahead a && !a.planned && a.server.equals(server)) out.add(a);
    }
    return out;
  }

  /** The forward put ahead as {@code a} is planned as {@code op}. */
  synchronized void claim(Ahead a, Forward op) {
    if (ahead.get(a.flow) == a) ahead.put(a.flow, op);
  }

  synchronized void applied(Iterable<Op> ops, long nowNs) {
    for (Op op : ops) {
      Object first = ahead.get(op.flow());
      if (first != null) {
        if (first == op) ahead.remove(op.flow()); // the forward put ahead: in place already
        continue; // planned before that forward: older than what the map holds
      }
      switch (op) {
        case Forward f -> {
          closingUntil.remove(f.flow());
          if (mirrors(f.flow(), f.server())) {
            put(f.flow(), f.server(), false);
          } else {
            remove(f.flow()); // it may have pointed to another server before
          }
        }
        case Retire r -> {
          // A direct entry leaves the map at its close: its late packets go on to the nftables
          // table's late map (which a SYN on the 4-tuple ends), one bpf(2) call instead of two.
          // The map keeps only wrapped ones closing: nftables cannot wrap.
          if (encap.test(r.server()) && mirrors(r.flow(), r.server())) {
            put(r.flow(), r.server(), true);
            long until = nowNs + r.grace().toNanos();
            closingUntil.put(r.flow(), until);
            closings.addLast(Map.entry(r.flow(), until));
          } else {
            closingUntil.remove(r.flow());
            remove(r.flow());
          }
        }
        case Unforward u -> {
          closingUntil.remove(u.flow());
          remove(u.flow());
        }
        default -> {} // freezes concern this host's own output, not forwarding
      }
    }
  }

  synchronized void notApplied(Iterable<Op> ops) {
    for (Op op : ops) {
      // The map keeps the entry put ahead: the connection is forwarded, without a record in
      // nftables (the service logs that); later changes of the flow apply again.
      if (ahead.get(op.flow()) == op) ahead.remove(op.flow());
    }
  }

  synchronized void expire(long nowNs) {
    while (!closings.isEmpty() && closings.peekFirst().getValue() - nowNs <= 0) {
      var c = closings.removeFirst();
      // Only if it is still that close's entry: a new handoff of the 4-tuple replaced it.
      if (closingUntil.remove(c.getKey(), c.getValue())) remove(c.getKey());
    }
  }

  /** Map changes that failed (each logged, at most a few lines per second). */
  synchronized long failures() {
    return failures;
  }

  /** Forwards put ahead of their commit. */
  synchronized long putAheadCount() {
    return putAhead;
  }

  /** Flows put ahead whose forward has not reached {@link #applied} yet. */
  synchronized int pendingAhead() {
    return ahead.size();
  }

  private void put(FlowKey flow, InetAddress server, boolean closing) {
    if (!mirrors(flow, server)) {
      failures++;
      failureLog.warn(
          "{}: the BPF flow map cannot forward it to {} (encapsulated forwarding goes to IPv4"
              + " fabric addresses, direct forwarding to one of the connection's family)",
          flow,
          server);
      return;
    }
    try {
      flows.putTcp(flow, server, encap.test(server), closing, ++nextId);
    } catch (LinuxException e) {
      failures++;
      failureLog.warn("{}: cannot put its BPF forwarding entry: {}", flow, e.getMessage());
    }
  }

  private void remove(FlowKey flow) {
    try {
      flows.removeTcp(flow);
    } catch (LinuxException e) {
      failures++;
      failureLog.warn("{}: cannot remove its BPF forwarding entry: {}", flow, e.getMessage());
    }
  }
}
