package io.baton.dispatcher;

import io.baton.dispatcher.routing.Pool;
import io.baton.dispatcher.routing.Router;
import io.baton.dataplane.Vip;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the dispatcher needs to serve one virtual address and port: how to read new
 * connections, where to route them, the pools, and the limits for slow or oversized clients.
 * Immutable.
 *
 * @param firstByteTimeout a client that sends nothing for this long is closed
 * @param headTimeout a client whose request head (or ClientHello) is not complete by then gets
 *     408 (http) or is closed (tls)
 * @param handoffTimeout how long a server may take to accept a handoff before the next one is tried
 */
public record VipSite(
    Vip vip,
    Mode mode,
    Router router,
    Map<String, Pool> pools,
    int maxHeadBytes,
    Duration firstByteTimeout,
    Duration headTimeout,
    Duration handoffTimeout) {
  public VipSite {
    Objects.requireNonNull(vip, "vip");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(router, "router");
    pools = Map.copyOf(pools);
    if (maxHeadBytes < 1024) throw new IllegalArgumentException("maxHeadBytes must be >= 1024");
  }
}
