package io.baton.handoff;

import java.time.Duration;
import java.util.Objects;

/**
 * How a fabric session tells that its peer is gone: every {@code heartbeat} each side sends a
 * HEARTBEAT when it sent nothing else, and a side that receives no frame for {@code deadAfter}
 * closes the session. TCP alone cannot tell: a stopped (SIGSTOP) or wedged process's kernel keeps
 * acknowledging segments, so keepalive and {@code TCP_USER_TIMEOUT} never fire; only the peer
 * application's silence shows it. Immutable.
 */
public record Liveness(Duration heartbeat, Duration deadAfter) {
  /** 200 ms heartbeats, dead after 1 s of silence. */
  public static final Liveness DEFAULT =
      new Liveness(Duration.ofMillis(200), Duration.ofSeconds(1));

  public Liveness {
    Objects.requireNonNull(heartbeat, "heartbeat");
    Objects.requireNonNull(deadAfter, "deadAfter");
    if (heartbeat.toMillis() < 1)
      throw new IllegalArgumentException("heartbeat must be >= 1 ms: " + heartbeat);
    if (deadAfter.compareTo(heartbeat.multipliedBy(2)) < 0) {
      throw new IllegalArgumentException(
          "deadAfter (" + deadAfter + ") must be at least twice the heartbeat (" + heartbeat + ")");
    }
  }
}
