package io.baton.routing;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Picks the member with the fewest active connections per unit of weight ({@code active / weight},
 * compared exactly by cross-multiplication). Ties go to the heavier member, then to the next member
 * in round-robin order, so idle members share new connections instead of the first one taking them
 * all. The default balancer.
 *
 * <p>Thread-safe: loads come from a thread-safe {@link LoadView}, the round-robin position is an
 * atomic counter, and the member list is immutable. Concurrent picks may see the same loads and
 * choose the same member; the next load update corrects that.
 */
public final class LeastConnectionsBalancer implements Balancer {
  private final List<Member> members;
  private final LoadView load;
  private final AtomicInteger nextStart = new AtomicInteger();

  public LeastConnectionsBalancer(List<Member> members, LoadView load) {
    this.members = List.copyOf(members);
    this.load = Objects.requireNonNull(load, "load");
  }

  @Override
  public List<Member> members() {
    return members;
  }

  @Override
  public Optional<Member> pick(PickContext ctx, Set<String> exclude) {
    int n = members.size();
    if (n == 0) return Optional.empty();
    int start = Math.floorMod(nextStart.getAndIncrement(), n);
    Member best = null;
    long bestActive = 0;
    for (int i = 0; i < n; i++) {
      Member m = members.get((start + i) % n);
      if (m.weight() == 0 || exclude.contains(m.node())) continue;
      long active = Math.max(0, load.activeConnections(m.node()));
      if (best == null || isBetter(active, m.weight(), bestActive, best.weight())) {
        best = m;
        bestActive = active;
      }
    }
    return Optional.ofNullable(best);
  }

  /** {@code a/wa < b/wb}, or equal and {@code wa > wb}; later ties lose (round robin). */
  private static boolean isBetter(long a, int wa, long b, int wb) {
    long left = a * wb;
    long right = b * wa;
    return left < right || (left == right && wa > wb);
  }

  @Override
  public String toString() {
    return "LeastConnections" + members.stream().map(Member::node).toList();
  }
}
