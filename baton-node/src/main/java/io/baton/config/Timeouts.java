package io.baton.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How long the farm waits for clients and peers. All positive. Immutable.
 *
 * @param firstByte from accept to the first byte of the request; silent clients are closed
 * @param head from accept to the complete request head (http) or ClientHello (tls); at least
 *     {@code firstByte}
 * @param handoff from sending a handoff to the server's answer; then the dispatcher takes the
 *     connection back and tries the next server
 * @param forwardingEntry lifetime of an idle forwarding entry: a safety net for closes that were
 *     never reported
 * @param closeGrace how long a forwarding entry outlives the reported close, for late FIN/ACKs
 */
public record Timeouts(
    Duration firstByte,
    Duration head,
    Duration handoff,
    Duration forwardingEntry,
    Duration closeGrace) {
  /** The values used for every timeout the config leaves out. */
  public static final Timeouts DEFAULTS =
      new Timeouts(
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofSeconds(2),
          Duration.ofHours(1),
          Duration.ofSeconds(2));

  public Timeouts {
    Objects.requireNonNull(firstByte, "firstByte");
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(handoff, "handoff");
    Objects.requireNonNull(forwardingEntry, "forwardingEntry");
    Objects.requireNonNull(closeGrace, "closeGrace");
  }
}
