package io.baton.server.delivery;

import io.baton.transplant.FlowKey;
import java.util.Objects;

/**
 * What a delivered connection is: its 4-tuple, a short human summary (for example the routed
 * request line) for logs, and, for a connection migrated from another server, the state its
 * application gave to carry on with (empty otherwise; see {@link io.baton.migration.MigratedIn}),
 * and whether the restored socket still owes the client an acknowledgement of bytes it received
 * (the dispatcher delayed its first ACK; see {@link OwedAck}). Immutable apart from the array,
 * which is not copied.
 */
public record ConnectionInfo(
    FlowKey flow, String summary, byte[] appState, io.baton.linux.TcpSegment owedAck) {
  public ConnectionInfo {
    Objects.requireNonNull(flow, "flow");
    Objects.requireNonNull(summary, "summary");
    Objects.requireNonNull(appState, "appState");
  }

  public ConnectionInfo(FlowKey flow, String summary, byte[] appState) {
    this(flow, summary, appState, null);
  }

  /** Whether the client's bytes are still unacknowledged ({@link #owedAck} is their ACK). */
  public boolean ackOwed() {
    return owedAck != null;
  }

  public ConnectionInfo(FlowKey flow, String summary) {
    this(flow, summary, new byte[0]);
  }

  @Override
  public String toString() {
    return summary.isEmpty() ? flow.toString() : flow + " (" + summary + ")";
  }
}
