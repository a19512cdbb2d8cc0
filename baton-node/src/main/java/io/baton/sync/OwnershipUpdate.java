package io.baton.sync;

import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.List;
import java.util.Objects;

/**
 * A server's news about the connections it owns, for every dispatcher of the farm: each forwards an
 * owned connection's packets to its server, so a route change that moves the client to another
 * dispatcher does not cut it. Immutable.
 *
 * @param node the owning server's name (must be the sender)
 * @param fabricAddress the owning server's fabric address (must match its reports)
 * @param incarnation the sender process's start, as in its reports
 * @param sequence grows by one with each update of an incarnation
 * @param changes connections opened or closed, in the order they happened
 */
public record OwnershipUpdate(
    String node,
    Inet4Address fabricAddress,
    long incarnation,
    long sequence,
    List<Change> changes) {
  /** Most changes one update carries; more leave in the next. */
  public static final int MAX_CHANGES = 2000;

  public OwnershipUpdate {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(fabricAddress, "fabricAddress");
    changes = List.copyOf(changes);
    if (changes.size() > MAX_CHANGES) {
      throw new IllegalArgumentException(
          "at most " + MAX_CHANGES + " changes per update, got " + changes.size());
    }
  }

  /**
   * One connection the server took ({@code open}) or lost ({@code !open}).
   *
   * @param handoffId the handoff that brought it: a close names it, so that an old close cannot
   *     remove the entry of a newer connection on the same 4-tuple
   */
  public record Change(boolean open, FlowKey flow, long handoffId) {
    public Change {
      Objects.requireNonNull(flow, "flow");
    }
  }
}
