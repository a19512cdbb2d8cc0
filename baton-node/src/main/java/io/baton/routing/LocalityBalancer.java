package io.baton.routing;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Locality-aware request distribution (LARD, Pai et al., ASPLOS 1998, the basic strategy): the
 * requests for one target (host and path) go to the server that served it before, so that its cache
 * holds it and the farm's caches together hold the working set; a target moves to the least-loaded
 * server only when its server is overloaded ({@code > high} active connections while another has
 * {@code < low}, or {@code >= 2 * high} at all). A new target goes to the least-loaded server.
 * Connections without a target (layer 4, TLS without a path) go to the least-loaded server.
 *
 * <p>Loads are the dispatcher's estimate of each server's active connections ({@link LoadView}).
 * The target table is bounded ({@value #MAX_TARGETS} targets, least recently used first out).
 *
 * <p>Thread-safe: the table is guarded by {@code this}, held only for a lookup and an update.
 */
public final class LocalityBalancer implements Balancer {
  /** Targets remembered; beyond this, the least recently used one is forgotten. */
  static final int MAX_TARGETS = 1 << 18;

  /** Pai et al.'s thresholds, in active connections. */
  public static final int DEFAULT_LOW = 25;

  public static final int DEFAULT_HIGH = 65;

  private final List<Member> members;
  private final LoadView load;
  private final int low;
  private final int high;
  private final Map<String, String> serverOf =
      new LinkedHashMap<>(1024, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
          return size() > MAX_TARGETS;
        }
      };

  public LocalityBalancer(List<Member> members, LoadView load, int low, int high) {
    if (low < 0 || high <= low)
      throw new IllegalArgumentException("need 0 <= low < high, got " + low + ", " + high);
    this.members = List.copyOf(members);
    this.load = Objects.requireNonNull(load, "load");
    this.low = low;
    this.high = high;
  }

  @Override
  public List<Member> members() {
    return members;
  }

  @Override
  public Optional<Member> pick(PickContext ctx, Set<String> exclude) {
    Member least = leastLoaded(exclude);
    if (least == null) return Optional.empty();
    if (ctx.path().isEmpty()) return Optional.of(least);
    String target = ctx.host().orElse("") + ctx.path().get();
    synchronized (this) {
      Member current = member(serverOf.get(target), exclude);
      if (current != null && !overloaded(current, least)) return Optional.of(current);
      serverOf.put(target, least.node());
      return Optional.of(least);
    }
  }

  private boolean overloaded(Member server, Member least) {
    int active = load.activeConnections(server.node());
    return (active > high && load.activeConnections(least.node()) < low) || active >= 2 * high;
  }

  private Member member(String node, Set<String> exclude) {
    if (node == null || exclude.contains(node)) return null;
    for (Member m : members) if (m.node().equals(node) && m.weight() > 0) return m;
    return null;
  }

  /** Fewest active connections per unit of weight; ties to the first in member order. */
  private Member leastLoaded(Set<String> exclude) {
    Member best = null;
    long bestActive = 0;
    for (Member m : members) {
      if (m.weight() == 0 || exclude.contains(m.node())) continue;
      long active = Math.max(0, load.activeConnections(m.node()));
      if (best == null || active * best.weight() < bestActive * m.weight()) {
        best = m;
        bestActive = active;
      }
    }
    return best;
  }

  /** Targets it remembers now (tests, metrics). */
  synchronized int targets() {
    return serverOf.size();
  }

  @Override
  public String toString() {
    return "Locality"
        + members.stream().map(Member::node).toList()
        + "[low="
        + low
        + ", high="
        + high
        + "]";
  }
}
