package io.baton.sync;

import java.util.Objects;

/**
 * What this node's roles say about it when its report is due. Immutable.
 *
 * @param activeConnections client connections it serves now
 * @param handoffsTotal handoffs it accepted or made since it started (the plane turns it into a
 *     rate)
 * @param healthy whether its application passes the health check
 * @param health {@code ok}, or what failed
 * @param draining the operator asked for no new connections
 */
public record LocalLoad(
    int activeConnections, long handoffsTotal, boolean healthy, String health, boolean draining) {
  public LocalLoad {
    Objects.requireNonNull(health, "health");
  }
}
