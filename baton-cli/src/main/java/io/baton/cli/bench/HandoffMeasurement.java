package io.baton.cli.bench;

/**
 * What a Baton dispatcher did during one measured run: its handoffs (from its metrics), its own CPU
 * time per handoff, and the handoff latency (routing decision to the server's ACCEPTED). Immutable;
 * serialized as is into the JSON report.
 *
 * @param handoffs handoffs the dispatcher completed during the run
 * @param dispatcherUsPerHandoff the dispatcher process's user + system CPU time per handoff
 * @param handoffP50Us median handoff time (bucket-interpolated)
 * @param handoffP99Us 99th percentile handoff time (bucket-interpolated)
 */
record HandoffMeasurement(
    String system,
    String mode,
    String size,
    int repeat,
    long handoffs,
    double dispatcherUsPerHandoff,
    double handoffP50Us,
    double handoffP99Us) {

  static HandoffMeasurement of(
      SystemKind system,
      ConnectionMode mode,
      ResponseSize size,
      int repeat,
      HandoffCounters during,
      long dispatcherTicks) {
    return new HandoffMeasurement(
        system.label(),
        mode.label(),
        size.token(),
        repeat,
        during.handoffs(),
        during.handoffs() == 0
            ? Double.NaN
            : dispatcherTicks * CpuTimes.MICROS_PER_TICK / during.handoffs(),
        during.quantileUs(0.50),
        during.quantileUs(0.99));
  }
}
