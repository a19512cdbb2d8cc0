package io.baton.dispatcher;

import io.baton.config.MemberConfig;
import io.baton.dataplane.Vip;
import io.baton.handoff.HandoffClient;
import io.baton.routing.BalanceKind;
import io.baton.routing.HashKey;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.Pool;
import io.baton.sync.FarmSnapshot;
import io.baton.sync.NodeReport;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pools that list no servers ({@code members: discover}): per VIP port that uses one, the pool
 * of every server in the sync plane's view that reports serving that port. A new server gets a
 * fabric connection and may claim its connections (its reported fabric address, unless the config
 * says another); a pool is rebuilt only when its members change, so balancer state (LARD's table)
 * survives health and load changes, which the farm state answers at each pick.
 *
 * <p>Thread-safe: the farm listener rebuilds pools one call at a time; pickers read each pool's
 * current value from its {@link AtomicReference}.
 */
final class DiscoveredPools {
  private static final Logger log = LoggerFactory.getLogger(DiscoveredPools.class);

  /** How a discovering pool balances, before it knows its members. */
  record Discovering(BalanceKind kind, HashKey key) {}

  /** One discovering pool as one VIP port uses it. */
  private record DiscoveredPool(
      String name, Vip vip, Discovering how, AtomicReference<Pool> current) {}

  private final List<DiscoveredPool> pools = new CopyOnWriteArrayList<>();
  private final String nodeName;
  private final LoadTable load;
  private final int handoffPort;
  private final boolean localService;
  private final Map<String, InetAddress> serverFabric;
  private final Map<String, HandoffClient> clients;
  private final Function<MemberConfig, HandoffClient> clientFactory;

  /**
   * @param localService whether this node serves itself (peer mode): its own entry is local
   * @param serverFabric every known server's fabric address (shared with the claim check)
   * @param clients the dispatcher's fabric clients by server (shared)
   * @param clientFactory a new, unconnected client for a server first seen here
   */
  DiscoveredPools(
      String nodeName,
      LoadTable load,
      int handoffPort,
      boolean localService,
      Map<String, InetAddress> serverFabric,
      Map<String, HandoffClient> clients,
      Function<MemberConfig, HandoffClient> clientFactory) {
    this.nodeName = nodeName;
    this.load = load;
    this.handoffPort = handoffPort;
    this.localService = localService;
    this.serverFabric = serverFabric;
    this.clients = clients;
    this.clientFactory = clientFactory;
  }

  /**
   * The discovering pools of {@code kinds} as {@code vip} uses them, empty until servers report.
   */
  Map<String, AtomicReference<Pool>> forVip(Vip vip, Map<String, Discovering> kinds) {
    Map<String, AtomicReference<Pool>> refs = new HashMap<>();
    kinds.forEach(
        (name, how) -> {
          var ref =
              new AtomicReference<>(Pool.create(name, how.kind(), List.of(), load, how.key()));
          refs.put(name, ref);
          pools.add(new DiscoveredPool(name, vip, how, ref));
        });
    return refs;
  }

  void farmChanged(FarmSnapshot farm) {
    for (DiscoveredPool d : pools) {
      InetSocketAddress service = new InetSocketAddress(d.vip().address(), d.vip().port());
      List<Member> members = new ArrayList<>();
      for (String node : new TreeSet<>(farm.view())) {
        NodeReport r = farm.report(node);
        if (r == null || !r.services().contains(service)) continue;
        boolean isLocal = localService && node.equals(nodeName);
        members.add(
            new Member(
                node,
                new InetSocketAddress(r.fabricAddress(), handoffPort),
                r.fabricAddress(),
                1,
                isLocal));
      }
      if (members.equals(d.current().get().members())) continue;
      for (Member m : members) {
        if (m.local()) continue;
        InetAddress known = serverFabric.putIfAbsent(m.node(), m.fabricAddress());
        if (known != null && !known.equals(m.fabricAddress())) {
          log.warn(
              "pool {}: {} reports fabric address {}, but it is {} here; not a member",
              d.name(),
              m.node(),
              m.fabricAddress().getHostAddress(),
              known.getHostAddress());
          continue;
        }
        clients.computeIfAbsent(
            m.node(),
            n -> {
              HandoffClient c = clientFactory.apply(new MemberConfig(n, m.fabricAddress(), 1));
              c.connect();
              return c;
            });
      }
      members.removeIf(m -> !m.local() && !m.fabricAddress().equals(serverFabric.get(m.node())));
      d.current().set(Pool.create(d.name(), d.how().kind(), members, load, d.how().key()));
      log.info(
          "pool {} for {} now has {} (from the sync plane)",
          d.name(),
          d.vip(),
          members.stream().map(Member::node).toList());
    }
  }
}
