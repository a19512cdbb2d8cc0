package io.baton.cli.bench;

import java.util.List;

/**
 * How the load generator uses connections. {@link #CLOSE} is the primary figure: every request is a
 * new connection (one handoff each for Baton). {@link #SERIAL} is the latency probe: one connection
 * at a time, so the latency is the system's own, not a queue. {@link #PACED} opens connections at
 * one fixed rate for every system, so CPU per request is compared at equal load. Immutable.
 */
enum ConnectionMode {
  /** {@code Connection: close}: one request per connection, at the plan's concurrency. */
  CLOSE("close", List.of("-H", "Connection: close")),
  /** Persistent connections at the plan's concurrency. */
  KEEP_ALIVE("keep-alive", List.of()),
  /** One request per connection, one connection at a time (concurrency 1), smallest size only. */
  SERIAL("close-c1", List.of("-H", "Connection: close")),
  /**
   * One request per connection, new connections at the plan's fixed rate ({@link Hey}, not wrk):
   * every system at the same load.
   */
  PACED("paced", List.of());

  private final String label;
  private final List<String> wrkArguments;

  ConnectionMode(String label, List<String> wrkArguments) {
    this.label = label;
    this.wrkArguments = wrkArguments;
  }

  String label() {
    return label;
  }

  List<String> wrkArguments() {
    return wrkArguments;
  }

  @Override
  public String toString() {
    return label;
  }
}
