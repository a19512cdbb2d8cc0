package io.baton.dispatcher;

import io.baton.dataplane.ForwardingService;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.linux.IpText;
import io.baton.routing.LoadTable;
import io.baton.transplant.FlowKey;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the dispatcher does with one server's fabric events: CLOSED retires the connection's entry
 * (if that handoff still owns it), LOAD_REPORT updates the balancers' view, the INVENTORY sent at
 * each session's start reconciles the forwarding table, and a lost session means a lost server
 * ({@link Lost}).
 *
 * <p>Thread-safe: events come on the event loop of the session's channel, and successive sessions
 * may use different loops; the per-session state is guarded by {@code this}.
 */
final class ServerLink implements HandoffClient.Listener {
  private static final Logger log = LoggerFactory.getLogger(ServerLink.class);

  /** Told when the server's session is lost. */
  interface Lost {
    void serverLost(String node, List<InetAddress> fabricAddresses, String why);
  }

  private final String node;

  /**
   * The server's fabric addresses, at most one per family, the session's first: forwarding entries
   * of IPv4 flows point to its IPv4 address, those of IPv6 flows to its IPv6 one.
   */
  private final List<InetAddress> fabricAddresses;

  private final HandoffCoordinator coordinator;
  private final LoadTable load;
  private final ForwardingService forwarding;
  private final DispatcherStats stats;
  private final Lost lost;
  private final Runnable inventoried;
  private final Map<FlowKey, Long> inventory = new HashMap<>(); // guarded by this
  private long sessionUpNs; // guarded by this
  private LongSupplier sessionStart = () -> 0; // guarded by this

  ServerLink(
      String node,
      List<InetAddress> fabricAddresses,
      HandoffCoordinator coordinator,
      LoadTable load,
      ForwardingService forwarding,
      DispatcherStats stats,
      Lost lost,
      Runnable inventoried) {
    this.node = node;
    if (fabricAddresses.isEmpty()) throw new IllegalArgumentException("no fabric address");
    this.fabricAddresses = List.copyOf(fabricAddresses);
    this.coordinator = coordinator;
    this.load = load;
    this.forwarding = forwarding;
    this.stats = stats;
    this.lost = lost;
    this.inventoried = inventoried;
  }

  /** Where a session's start time comes from (the client's stamp, on the table's clock). */
  synchronized void sessionStartFrom(LongSupplier sessionStartNs) {
    this.sessionStart = sessionStartNs;
  }

  @Override
  public void onClosed(FabricMessage.Closed closed) {
    InetAddress server = addressFor(closed.flow());
    if (server != null) coordinator.onClosed(closed, node, server);
  }

  @Override
  public void onLoadReport(FabricMessage.LoadReport report) {
    load.update(node, report.activeConnections());
  }

  @Override
  public void onInventory(FabricMessage.Inventory frame) {
    Map<FlowKey, Long> owned;
    long upNs;
    synchronized (this) {
      for (FabricMessage.Owned o : frame.owned()) inventory.put(o.flow(), o.handoffId());
      if (!frame.last()) return;
      owned = Map.copyOf(inventory);
      inventory.clear();
      upNs = sessionUpNs;
    }
    inventoried.run();
    Map<InetAddress, Map<FlowKey, Long>> byAddress = new HashMap<>();
    for (InetAddress address : fabricAddresses) byAddress.put(address, new HashMap<>());
    owned.forEach(
        (flow, id) -> {
          InetAddress address = addressFor(flow);
          if (address != null) byAddress.get(address).put(flow, id);
        });
    byAddress.forEach((address, flows) -> reconcile(address, flows, upNs));
  }

  /**
   * The address this server's entry for {@code flow} points to: its fabric address of the flow's
   * family; for an IPv6 flow of a server with an IPv4 fabric address only, that one (the flow is
   * forwarded wrapped in IPv4: {@code forwarding: encap}); null when it has none.
   */
  private InetAddress addressFor(FlowKey flow) {
    InetAddress ipv4 = null;
    for (InetAddress a : fabricAddresses) {
      if ((a instanceof Inet6Address) == flow.ipv6()) return a;
      if (!(a instanceof Inet6Address)) ipv4 = a;
    }
    return flow.ipv6() ? ipv4 : null;
  }

  private void reconcile(InetAddress fabricAddress, Map<FlowKey, Long> owned, long upNs) {
    forwarding
        .reconcile(fabricAddress, owned, upNs)
        .whenComplete(
            (r, error) -> {
              if (error != null) {
                log.warn(
                    "cannot reconcile the forwarding table with {}'s inventory: {}",
                    node,
                    error.getMessage());
                return;
              }
              stats.reconcileRemoved.add(r.removed());
              stats.reconcileAdded.add(r.added());
              log.info(
                  "{} owns {} connections of this dispatcher: {} stale entries removed, {} restored",
                  node,
                  owned.size(),
                  r.removed(),
                  r.added());
            });
  }

  @Override
  public void onConnectionState(boolean up) {
    log.info(
        "fabric connection to {} ({}) is {}",
        node,
        IpText.of(fabricAddresses.getFirst()),
        up ? "up" : "down");
    if (up) {
      synchronized (this) {
        // Stamped before the session could carry a handoff: only entries installed before it are
        // judged by this session's inventory.
        sessionUpNs = sessionStart.getAsLong();
        inventory.clear();
      }
    } else {
      lost.serverLost(node, fabricAddresses, "unreachable (fabric session lost)");
    }
  }
}
