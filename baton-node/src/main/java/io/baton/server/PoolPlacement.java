package io.baton.server;

import io.baton.routing.RequestHead;
import io.baton.routing.Router;
import io.baton.server.delivery.RerouteGate;
import io.baton.transplant.FlowKey;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where a VIP's requests belong, for per-request routing on this server: the VIP's rules choose a
 * pool, and a request whose pool does not have this node as a member moves its connection to one
 * that has ({@link Migrator}). Pools whose members are discovered from the sync plane, and requests
 * no rule routes, are served here. Immutable.
 */
final class PoolPlacement implements RerouteGate.Placement {
  private final String nodeName;
  private final Router router;
  private final Map<String, Set<String>> members;
  private final java.util.function.Supplier<Migrator> migrator;

  /**
   * @param members node names per pool named in the config (discovered pools are absent)
   */
  PoolPlacement(
      String nodeName,
      Router router,
      Map<String, Set<String>> members,
      java.util.function.Supplier<Migrator> migrator) {
    this.nodeName = nodeName;
    this.router = router;
    this.members = Map.copyOf(members);
    this.migrator = migrator;
  }

  @Override
  public Optional<String> elsewhere(RequestHead head) {
    Optional<String> pool = router.route(head);
    if (pool.isEmpty()) return Optional.empty();
    Set<String> m = members.get(pool.get());
    if (m == null || m.isEmpty() || m.contains(nodeName)) return Optional.empty();
    return pool;
  }

  @Override
  public CompletableFuture<Boolean> move(FlowKey flow, String pool) {
    return migrator
        .get()
        .migrateToOneOf(flow, members.get(pool))
        .thenApply(MigrationOutcome::moved);
  }
}
