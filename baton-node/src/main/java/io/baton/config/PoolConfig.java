package io.baton.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A named group of servers that serves the same content, and how to pick one. Immutable.
 *
 * @param name unique among pools; rules name pools by it
 * @param balance how a member is chosen
 * @param hashKey present exactly when {@code balance} is {@link Balance#HASH}
 * @param members at least one, unique node names; none when {@code discover}
 * @param discover the members are every server of the sync plane that reports serving the VIP
 *     address and port the pool is used for ({@code members: discover})
 * @param forwarding how the dispatcher carries the later packets of connections (and UDP flows) to
 *     the members: unchanged on a shared L2 fabric, or encapsulated to members behind a router
 */
public record PoolConfig(
    String name,
    Balance balance,
    Optional<HashKey> hashKey,
    List<MemberConfig> members,
    boolean discover,
    Forwarding forwarding) {
  public PoolConfig(
      String name, Balance balance, Optional<HashKey> hashKey, List<MemberConfig> members) {
    this(name, balance, hashKey, members, false, Forwarding.DIRECT);
  }

  public PoolConfig(
      String name,
      Balance balance,
      Optional<HashKey> hashKey,
      List<MemberConfig> members,
      boolean discover) {
    this(name, balance, hashKey, members, discover, Forwarding.DIRECT);
  }

  public PoolConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(balance, "balance");
    Objects.requireNonNull(hashKey, "hashKey");
    if (hashKey.isPresent() != (balance == Balance.HASH)) {
      throw new IllegalArgumentException("hashKey goes with balance hash, and only with it");
    }
    members = List.copyOf(members);
    Objects.requireNonNull(forwarding, "forwarding");
    if (discover && !members.isEmpty()) {
      throw new IllegalArgumentException("pool " + name + " discovers its members: it lists none");
    }
    if (!discover && members.isEmpty()) {
      throw new IllegalArgumentException("pool " + name + " needs at least one member");
    }
  }
}
