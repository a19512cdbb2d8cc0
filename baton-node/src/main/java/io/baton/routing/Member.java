package io.baton.routing;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A server in a pool, as the balancers see it.
 *
 * @param node the node's cluster name; balancers exclude and hash members by it
 * @param handoffAddress where the node's handoff listener accepts connections (fabric)
 * @param fabricAddress the node's fabric address, target of forwarded client packets
 * @param weight relative capacity; 0 drains the member (never picked)
 * @param local true if the member is this node (peer mode: serve without a handoff)
 */
public record Member(
    String node,
    InetSocketAddress handoffAddress,
    InetAddress fabricAddress,
    int weight,
    boolean local) {
  /** Weights above this are refused: they would only blow up hash rings and counters. */
  public static final int MAX_WEIGHT = 1000;

  public Member {
    Objects.requireNonNull(node, "node");
    if (node.isBlank()) throw new IllegalArgumentException("member node name must not be blank");
    Objects.requireNonNull(handoffAddress, "handoffAddress");
    Objects.requireNonNull(fabricAddress, "fabricAddress");
    if (weight < 0 || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException(
          "weight of member '" + node + "' must be 0.." + MAX_WEIGHT + ", got " + weight);
    }
  }

  /** Copy with another weight (draining, restoring). */
  public Member withWeight(int newWeight) {
    return new Member(node, handoffAddress, fabricAddress, newWeight, local);
  }
}
