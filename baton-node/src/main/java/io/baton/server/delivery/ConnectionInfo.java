package io.baton.server.delivery;

import io.baton.transplant.FlowKey;
import java.util.Objects;

/**
 * What a delivered connection is: its 4-tuple and a short human summary (for example the
 * routed request line), used in logs. Immutable.
 */
public record ConnectionInfo(FlowKey flow, String summary) {
  public ConnectionInfo {
    Objects.requireNonNull(flow, "flow");
    Objects.requireNonNull(summary, "summary");
  }

  @Override
  public String toString() {
    return summary.isEmpty() ? flow.toString() : flow + " (" + summary + ")";
  }
}
