package io.baton.config;

import java.net.InetAddress;
import java.util.Objects;

/**
 * A server in a pool. Immutable.
 *
 * @param node the server's node name (its {@code node.name})
 * @param fabricAddress the server's fabric address, where its agent accepts handoffs
 * @param weight share of new connections, {@value #MIN_WEIGHT}..{@value #MAX_WEIGHT}; 0 drains the
 *     member (no new connections, existing ones stay)
 */
public record MemberConfig(String node, InetAddress fabricAddress, int weight) {
  public static final int MIN_WEIGHT = 0;
  public static final int MAX_WEIGHT = 1000;
  public static final int DEFAULT_WEIGHT = 1;

  public MemberConfig {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(fabricAddress, "fabricAddress");
    if (weight < MIN_WEIGHT || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException("weight must be 0..1000, got " + weight);
    }
  }
}
