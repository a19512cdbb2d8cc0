package io.baton.routing;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A named group of servers that a {@link Router} sends connections to, with the balancer that
 * spreads them. Membership or weight changes build a new pool ({@link #create}); the shared {@link
 * LoadTable} carries the loads over.
 *
 * <p>Immutable and thread-safe (its balancer is thread-safe).
 */
public record Pool(String name, BalanceKind kind, List<Member> members, Balancer balancer) {
  public Pool {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) throw new IllegalArgumentException("pool name must not be blank");
    Objects.requireNonNull(kind, "kind");
    members = List.copyOf(members);
    Objects.requireNonNull(balancer, "balancer");
    Set<String> nodes = new HashSet<>();
    for (Member m : members) {
      if (!nodes.add(m.node())) {
        throw new IllegalArgumentException(
            "pool '" + name + "' lists node '" + m.node() + "' twice");
      }
    }
    if (!balancer.members().equals(members)) {
      throw new IllegalArgumentException("pool '" + name + "': balancer has other members");
    }
  }

  /** A pool whose balancer is built from {@code kind}; hashing pools hash the client IP. */
  public static Pool create(String name, BalanceKind kind, List<Member> members, LoadView load) {
    return create(name, kind, members, load, HashKey.CLIENT_IP);
  }

  public static Pool create(
      String name, BalanceKind kind, List<Member> members, LoadView load, HashKey hashKey) {
    return new Pool(name, kind, members, kind.newBalancer(members, load, hashKey));
  }

  /** See {@link Balancer#pick}. */
  public Optional<Member> pick(PickContext ctx, Set<String> exclude) {
    return balancer.pick(ctx, exclude);
  }
}
