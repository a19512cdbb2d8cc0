package io.baton.handoff;

import java.util.concurrent.atomic.LongAdder;

/**
 * Refused-frame counters of one endpoint ({@link HandoffClient} or {@link HandoffServer}), shared
 * by all its connections. Thread-safe: incremented on event loops, read from anywhere.
 */
final class FabricCounters {
  /** Frames that failed MAC or sequence verification. */
  final LongAdder authFailures = new LongAdder();

  /** Frames that broke the wire format or the protocol (e.g. a second HELLO). */
  final LongAdder malformedFrames = new LongAdder();

  /** Sessions closed because the peer sent nothing for the dead-after time. */
  final LongAdder silentPeers = new LongAdder();

  /** Connections refused for their source address. */
  final LongAdder refusedPeers = new LongAdder();

  /** Bugs: unchecked exceptions caught at the edge of the pipeline. Should stay 0. */
  final LongAdder unexpectedErrors = new LongAdder();
}
