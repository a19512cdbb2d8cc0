package io.baton.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How long the farm waits for clients and peers. All positive. Immutable.
 *
 * @param firstByte from accept to the first byte of the request; silent clients are closed
 * @param head from accept to the complete request head (http) or ClientHello (tls); at least {@code
 *     firstByte}. Runs from accept, not from the first byte, so a client that trickles its head
 *     (slowloris) is bounded too
 * @param handoff from sending a handoff to the server's answer; then the dispatcher sends ABORT and
 *     waits (up to {@code fabricDeadAfter}) for the server to confirm it did not take the
 *     connection before trying the next server; an ACCEPTED in that time still counts (late)
 * @param closeGrace how long a closed connection's late FIN/ACKs are still forwarded to its server
 *     after it reports the close; a SYN that reuses the 4-tuple ends it sooner
 * @param idle a delivered connection on a server that moves no byte for this long is closed
 * @param fabricDeadAfter a server whose fabric connection has been silent this long is declared
 *     dead and gets no new handoffs
 * @param fabricHeartbeat how often each side of a fabric connection proves it is alive; less than
 *     half of {@code fabricDeadAfter}, so one lost heartbeat is not a death
 * @param udpFlowIdle a UDP flow (client address and port to a {@code mode: udp} VIP) that sends
 *     nothing for this long is forgotten: its next datagram is a new flow, picked afresh
 */
public record Timeouts(
    Duration firstByte,
    Duration head,
    Duration handoff,
    Duration closeGrace,
    Duration idle,
    Duration fabricDeadAfter,
    Duration fabricHeartbeat,
    Duration udpFlowIdle) {
  /** The values used for every timeout the config leaves out. */
  public static final Timeouts DEFAULTS =
      new Timeouts(
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofSeconds(2),
          Duration.ofSeconds(2),
          Duration.ofSeconds(60),
          Duration.ofSeconds(1),
          Duration.ofMillis(200),
          Duration.ofSeconds(30));

  /** Timeouts with the default UDP flow idle time. */
  public Timeouts(
      Duration firstByte,
      Duration head,
      Duration handoff,
      Duration closeGrace,
      Duration idle,
      Duration fabricDeadAfter,
      Duration fabricHeartbeat) {
    this(
        firstByte,
        head,
        handoff,
        closeGrace,
        idle,
        fabricDeadAfter,
        fabricHeartbeat,
        Duration.ofSeconds(30));
  }

  public Timeouts {
    Objects.requireNonNull(firstByte, "firstByte");
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(handoff, "handoff");
    Objects.requireNonNull(closeGrace, "closeGrace");
    Objects.requireNonNull(idle, "idle");
    Objects.requireNonNull(fabricDeadAfter, "fabricDeadAfter");
    Objects.requireNonNull(fabricHeartbeat, "fabricHeartbeat");
    Objects.requireNonNull(udpFlowIdle, "udpFlowIdle");
    if (fabricHeartbeat.multipliedBy(2).compareTo(fabricDeadAfter) >= 0) {
      throw new IllegalArgumentException(
          "fabricHeartbeat "
              + fabricHeartbeat
              + " must be less than half of fabricDeadAfter "
              + fabricDeadAfter);
    }
  }
}
