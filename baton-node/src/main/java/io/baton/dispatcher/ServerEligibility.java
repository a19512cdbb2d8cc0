package io.baton.dispatcher;

/**
 * What the farm's shared state says of a server before the dispatcher picks it: in a farm with a
 * sync plane, a server that left the view, stopped reporting, fails its health check or drains gets
 * no new connections. Thread-safe and cheap: asked on every pick, on the event loops.
 */
@FunctionalInterface
public interface ServerEligibility {
  /**
   * Without a sync plane: every configured server may be picked (the fabric still says who is up).
   */
  ServerEligibility ANY = node -> null;

  /** Why {@code node} must get no new connections now, or {@code null} if it may. */
  String refusal(String node);
}
