package io.baton.dataplane;

import io.baton.dataplane.DirectForwardingTable.Forward;
import io.baton.dataplane.DirectForwardingTable.Op;
import io.baton.dataplane.DirectForwardingTable.Retire;
import io.baton.dataplane.DirectForwardingTable.Unforward;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the forwarding entries of servers behind a router ({@code forwarding: encap}) from the
 * nftables table into the BPF flow map, which sees each packet first and wraps it: the nftables
 * table stays the one record of every connection (adopted at restart, reconciled with servers'
 * inventories, replicated between dispatchers), and this class follows its changes as they commit.
 *
 * <ul>
 *   <li>a forward puts the entry;
 *   <li>a close (retire) marks it closing: its late FIN and ACKs are still wrapped and sent, and a
 *       SYN on the 4-tuple deletes it in the kernel (as the nftables {@code closing} set does);
 *       after the close grace it goes ({@link #expire});
 *   <li>an unforward (cancel, dead server, reconciliation) removes it.
 * </ul>
 *
 * <p>Called under the forwarding service's guard, so confined to one thread at a time.
 */
final class EncapMirror implements ForwardingService.Mirror {
  private static final Logger log = LoggerFactory.getLogger(EncapMirror.class);

  private final FlowForwarding flows;
  private final Predicate<InetAddress> encap;
  private final Map<FlowKey, Long> closingUntil = new HashMap<>();
  private final ArrayDeque<Map.Entry<FlowKey, Long>> closings = new ArrayDeque<>();
  private int nextId;
  private long failures;

  EncapMirror(FlowForwarding flows, Predicate<InetAddress> encap) {
    this.flows = flows;
    this.encap = encap;
  }

  @Override
  public void adopt(Map<FlowKey, InetAddress> entries) {
    entries.forEach(
        (flow, server) -> {
          if (encap.test(server)) put(flow, server, false);
        });
  }

  @Override
  public void applied(Iterable<Op> ops, long nowNs) {
    for (Op op : ops) {
      switch (op) {
        case Forward f -> {
          if (encap.test(f.server())) {
            closingUntil.remove(f.flow());
            put(f.flow(), f.server(), false);
          } else if (f.replacing()) {
            remove(f.flow()); // it may have pointed to an encap server before
          }
        }
        case Retire r -> {
          if (encap.test(r.server())) {
            put(r.flow(), r.server(), true);
            long until = nowNs + r.grace().toNanos();
            closingUntil.put(r.flow(), until);
            closings.addLast(Map.entry(r.flow(), until));
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

  @Override
  public void expire(long nowNs) {
    while (!closings.isEmpty() && closings.peekFirst().getValue() - nowNs <= 0) {
      var c = closings.removeFirst();
      // Only if it is still that close's entry: a new handoff of the 4-tuple replaced it.
      if (closingUntil.remove(c.getKey(), c.getValue())) remove(c.getKey());
    }
  }

  /** Mirror changes that failed (each logged). */
  long failures() {
    return failures;
  }

  private void put(FlowKey flow, InetAddress server, boolean closing) {
    if (!(server instanceof Inet4Address server4)) {
      // The fabric is IPv4: wrapped packets (of IPv4 or IPv6 clients) go to IPv4 servers; config
      // refuses an encap pool with IPv6 fabric addresses.
      failures++;
      log.warn("{}: encapsulated forwarding goes to IPv4 fabric addresses, not {}", flow, server);
      return;
    }
    try {
      flows.putTcp(flow, server4, closing, ++nextId);
    } catch (LinuxException e) {
      failures++;
      log.warn("{}: cannot put its encapsulated forwarding entry: {}", flow, e.getMessage());
    }
  }

  private void remove(FlowKey flow) {
    try {
      flows.removeTcp(flow);
    } catch (LinuxException e) {
      failures++;
      log.warn("{}: cannot remove its encapsulated forwarding entry: {}", flow, e.getMessage());
    }
  }
}
