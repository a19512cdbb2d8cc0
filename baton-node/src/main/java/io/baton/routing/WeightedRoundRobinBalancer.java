package io.baton.routing;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Smooth weighted round robin, as in nginx: on each pick every eligible member's current weight
 * grows by its weight, the member with the largest current weight wins and loses the sum of the
 * eligible weights. Over any run of {@code sum(weights)} picks each member is chosen exactly {@code
 * weight} times, interleaved ({@code 5,1,1} gives {@code a a b a c a a}), not in bursts. Excluded
 * members sit out the pick, as in nginx's retry to the next upstream.
 *
 * <p>Thread-safe: the current weights are guarded by {@code this}; a pick is O(members).
 */
public final class WeightedRoundRobinBalancer implements Balancer {
  private final List<Member> members;
  private final long[] current; // guarded by this

  public WeightedRoundRobinBalancer(List<Member> members) {
    this.members = List.copyOf(members);
    this.current = new long[this.members.size()];
  }

  @Override
  public List<Member> members() {
    return members;
  }

  @Override
  public synchronized Optional<Member> pick(PickContext ctx, Set<String> exclude) {
    int best = -1;
    long total = 0;
    for (int i = 0; i < current.length; i++) {
      Member m = members.get(i);
      if (m.weight() == 0 || exclude.contains(m.node())) continue;
      current[i] += m.weight();
      total += m.weight();
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best < 0) return Optional.empty();
    current[best] -= total;
    return Optional.of(members.get(best));
  }

  @Override
  public String toString() {
    return "WeightedRoundRobin" + members.stream().map(m -> m.node() + "*" + m.weight()).toList();
  }
}
