package io.baton.cli.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * A started benchmark system: where the client sends its requests, which processes are the balancer
 * (their CPU time is recorded beside CPU 0's), and everything to stop afterwards.
 *
 * <p>Confined to the runner's thread.
 */
final class RunningSystem implements AutoCloseable {
  private final SystemKind kind;
  private final String baseUrl;
  private final List<BenchProcess> balancer;
  private final List<BenchProcess> processes;
  private final io.baton.lab.Host metricsHost;
  private final String metricsUrl;

  /**
   * @param processes every process of the system in start order (stopped in reverse); includes
   *     {@code balancer}
   */
  RunningSystem(
      SystemKind kind, String baseUrl, List<BenchProcess> balancer, List<BenchProcess> processes) {
    this(kind, baseUrl, balancer, processes, null, null);
  }

  /**
   * A Baton system: its dispatcher's metrics at {@code metricsUrl}, read from inside {@code
   * metricsHost}'s namespace.
   */
  RunningSystem(
      SystemKind kind,
      String baseUrl,
      List<BenchProcess> balancer,
      List<BenchProcess> processes,
      io.baton.lab.Host metricsHost,
      String metricsUrl) {
    this.metricsHost = metricsHost;
    this.metricsUrl = metricsUrl;
    this.kind = kind;
    this.baseUrl = baseUrl;
    this.balancer = List.copyOf(balancer);
    this.processes = List.copyOf(processes);
  }

  SystemKind kind() {
    return kind;
  }

  /** {@code http://IP:PORT}, without a path. */
  String baseUrl() {
    return baseUrl;
  }

  /** Clock ticks used so far by the balancer's processes (0 for a direct system). */
  long balancerProcessTicks() {
    return balancer.stream().mapToLong(BenchProcess::cpuTicks).sum();
  }

  /**
   * Clock ticks used so far by the JIT compiler threads of every process of the system (0 for a
   * system without a JVM).
   */
  long compilerTicks() {
    return processes.stream().mapToLong(BenchProcess::compilerTicks).sum();
  }

  /** The dispatcher's handoff counters now, or null for a system without a Baton dispatcher. */
  HandoffCounters handoffCounters() throws java.io.IOException {
    return metricsUrl == null ? null : HandoffCounters.scrape(metricsHost, metricsUrl);
  }

  /** Fails with a process's stderr if any process of the system has exited. */
  void checkAlive() throws java.io.IOException {
    for (BenchProcess p : processes) p.checkAlive();
  }

  /** Stops the processes in reverse start order: balancer first, then the servers. */
  @Override
  public void close() {
    List<BenchProcess> reversed = new ArrayList<>(processes);
    java.util.Collections.reverse(reversed);
    for (BenchProcess p : reversed) p.stop();
  }
}
