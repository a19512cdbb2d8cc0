package io.baton.dispatcher;

import io.baton.dataplane.ForwardingService;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.routing.LoadTable;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.HashMap;
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
    void serverLost(String node, Inet4Address fabricAddress, String why);
  }

  private final String node;
  private final Inet4Address fabricAddress;
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
      Inet4Address fabricAddress,
      HandoffCoordinator coordinator,
      LoadTable load,
      ForwardingService forwarding,
      DispatcherStats stats,
      Lost lost,
      Runnable inventoried) {
    this.node = node;
    this.fabricAddress = fabricAddress;
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
    coordinator.onClosed(closed, node, fabricAddress);
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
        fabricAddress.getHostAddress(),
        up ? "up" : "down");
    if (up) {
      synchronized (this) {
        // Stamped before the session could carry a handoff: only entries installed before it are
        // judged by this session's inventory.
        sessionUpNs = sessionStart.getAsLong();
        inventory.clear();
      }
    } else {
      lost.serverLost(node, fabricAddress, "unreachable (fabric session lost)");
    }
  }
}
