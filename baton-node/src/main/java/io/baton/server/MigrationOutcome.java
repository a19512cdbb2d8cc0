package io.baton.server;

import io.baton.transplant.FlowKey;

/**
 * How one live migration ended.
 *
 * @param outcome "moved" (the target owns it), "stayed" (it carries on here; {@code detail} says
 *     why), or "lost" (the outcome was unknown, so this copy was reset)
 * @param waitedMicros from the request to the application's safe point
 * @param movedMicros from the safe point to the target's answer
 */
public record MigrationOutcome(
    FlowKey flow,
    String target,
    String outcome,
    String detail,
    long waitedMicros,
    long movedMicros) {
  public boolean moved() {
    return outcome.equals("moved");
  }
}
