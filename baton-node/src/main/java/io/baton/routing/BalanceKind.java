package io.baton.routing;

import java.util.List;
import java.util.Locale;

/** The balancing algorithms a pool can use; each builds its {@link Balancer}. */
public enum BalanceKind {
  /** {@link LeastConnectionsBalancer}, the default. */
  LEAST_CONNECTIONS,
  /** {@link WeightedRoundRobinBalancer}. */
  WEIGHTED_ROUND_ROBIN,
  /** {@link ConsistentHashBalancer} on a {@link HashKey}. */
  CONSISTENT_HASH,
  /** {@link LocalityBalancer} (LARD) with its default thresholds. */
  LOCALITY;

  /**
   * A new balancer over {@code members}. {@code load} is used by least connections only, {@code
   * hashKey} by consistent hashing only.
   */
  public Balancer newBalancer(List<Member> members, LoadView load, HashKey hashKey) {
    return switch (this) {
      case LEAST_CONNECTIONS -> new LeastConnectionsBalancer(members, load);
      case WEIGHTED_ROUND_ROBIN -> new WeightedRoundRobinBalancer(members);
      case CONSISTENT_HASH -> new ConsistentHashBalancer(members, hashKey);
      case LOCALITY ->
          new LocalityBalancer(
              members, load, LocalityBalancer.DEFAULT_LOW, LocalityBalancer.DEFAULT_HIGH);
    };
  }

  /** The name used in configuration files, e.g. {@code least-connections}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Parses a {@link #configName()}; the message lists the valid names. */
  public static BalanceKind fromConfig(String text) {
    for (BalanceKind kind : values()) {
      if (kind.configName().equals(text)) return kind;
    }
    throw new IllegalArgumentException(
        "unknown balancing '"
            + text
            + "': use least-connections, weighted-round-robin, consistent-hash or locality");
  }
}
