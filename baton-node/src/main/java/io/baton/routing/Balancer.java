package io.baton.routing;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Chooses the member of one pool that gets a connection.
 *
 * <p>Implementations never pick a member of weight 0 or one whose node is in {@code exclude} (the
 * dispatcher passes the nodes that already refused this connection, to try the next one). When
 * every member is excluded or drained, the answer is empty.
 *
 * <p>Implementations are thread-safe: the dispatcher calls {@link #pick} from all its event-loop
 * threads at once. A balancer's member list never changes; build a new one (see {@link Pool}) when
 * membership or weights change.
 */
public interface Balancer {
  Optional<Member> pick(PickContext ctx, Set<String> exclude);

  /** The members this balancer chooses from, in configuration order. */
  List<Member> members();
}
