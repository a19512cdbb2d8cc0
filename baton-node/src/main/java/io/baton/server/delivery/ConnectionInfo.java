package io.baton.server.delivery;

import io.baton.transplant.FlowKey;
import java.util.Objects;

/**
 * What a delivered connection is: its 4-tuple, a short human summary (for example the routed
 * request line) for logs, and, for a connection migrated from another server, the state its
 * application gave to carry on with (empty otherwise; see {@link io.baton.migration.MigratedIn}).
 * Immutable apart from the array, which is not copied.
 */
public record ConnectionInfo(FlowKey flow, String summary, byte[] appState) {
  public ConnectionInfo {
    Objects.requireNonNull(flow, "flow");
    Objects.requireNonNull(summary, "summary");
    Objects.requireNonNull(appState, "appState");
  }

  public ConnectionInfo(FlowKey flow, String summary) {
    this(flow, summary, new byte[0]);
  }

  @Override
  public String toString() {
    return summary.isEmpty() ? flow.toString() : flow + " (" + summary + ")";
  }
}
