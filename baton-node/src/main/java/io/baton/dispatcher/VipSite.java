package io.baton.dispatcher;

import io.baton.dataplane.Vip;
import io.baton.routing.Pool;
import io.baton.routing.Router;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the dispatcher needs to serve one virtual address and port: how to read new
 * connections, where to route them, the pools, and the limits for slow or oversized clients.
 * Immutable.
 *
 * @param firstByteTimeout a client that sends nothing for this long is closed
 * @param headTimeout a client whose request head (or ClientHello) is not complete by then gets 408
 *     (http) or is closed (tls)
 * @param handoffTimeout how long a server may take to accept a handoff before the next one is tried
 * @param discovered pools whose members the sync plane tells ({@code members: discover}), each
 *     holding the pool of its current members
 */
public record VipSite(
    Vip vip,
    Mode mode,
    Router router,
    Map<String, Pool> pools,
    int maxHeadBytes,
    Duration firstByteTimeout,
    Duration headTimeout,
    Duration handoffTimeout,
    Map<String, java.util.concurrent.atomic.AtomicReference<Pool>> discovered) {
  public VipSite(
      Vip vip,
      Mode mode,
      Router router,
      Map<String, Pool> pools,
      int maxHeadBytes,
      Duration firstByteTimeout,
      Duration headTimeout,
      Duration handoffTimeout) {
    this(
        vip,
        mode,
        router,
        pools,
        maxHeadBytes,
        firstByteTimeout,
        headTimeout,
        handoffTimeout,
        Map.of());
  }

  /** The pool of that name now: a configured one, or the current members of a discovering one. */
  public Pool pool(String name) {
    Pool p = pools.get(name);
    if (p != null) return p;
    var ref = discovered.get(name);
    return ref == null ? null : ref.get();
  }

  public VipSite {
    Objects.requireNonNull(vip, "vip");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(router, "router");
    pools = Map.copyOf(pools);
    discovered = Map.copyOf(discovered);
    if (maxHeadBytes < 1024) throw new IllegalArgumentException("maxHeadBytes must be >= 1024");
  }
}
