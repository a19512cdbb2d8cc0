package io.baton.cli.bench;

/**
 * One measured wrk run of one system, mode and size, with the counters read around it. CPU figures
 * are per request in microseconds of CPU time; bytes per request count both directions of lb's
 * front interface. Immutable; serialized as is into the JSON report.
 *
 * @param cpu0NoiseMsPerSecond CPU 0's busy time per second just before the run, the system idle:
 *     load of other programs on the balancer's CPU, which the CPU 0 figure then includes
 * @param cpu0BusyTicks busy clock ticks of CPU 0 (the balancer's CPU) during the run
 * @param cpu0SoftirqTicks irq + softirq ticks of CPU 0 during the run
 * @param machineBusyTicks busy clock ticks of all CPUs during the run
 * @param balancerProcessTicks user + system ticks of the balancer's own processes during the run
 * @param frontBytes bytes received plus sent by lb's front interface during the run
 * @param balancerCpuUsPerRequest the primary figure: CPU 0 busy time per request
 * @param balancerProcessUsPerRequest the balancer processes' own user + system time per request: a
 *     lower bound of the primary figure that other programs on CPU 0 cannot inflate (it misses the
 *     packet work CPU 0 does in softirq outside the balancer's own time)
 * @param jitMsPerSecond CPU time per second of the JIT compiler threads of the system's JVMs (all
 *     of them, on either CPU) during the run: near 0 when the warm-up left nothing to compile
 */
record Measurement(
    String system,
    String mode,
    String size,
    int sizeBytes,
    int repeat,
    long requests,
    double seconds,
    double requestsPerSecond,
    double latencyP50Us,
    double latencyP99Us,
    long socketErrors,
    long non2xx,
    double cpu0NoiseMsPerSecond,
    long cpu0BusyTicks,
    long cpu0SoftirqTicks,
    long machineBusyTicks,
    long balancerProcessTicks,
    long frontBytes,
    double balancerCpuUsPerRequest,
    double balancerProcessUsPerRequest,
    double machineCpuUsPerRequest,
    double frontBytesPerRequest,
    double jitMsPerSecond) {

  static Measurement of(
      SystemKind system,
      ConnectionMode mode,
      ResponseSize size,
      int repeat,
      Wrk.Result wrk,
      double cpu0NoiseMsPerSecond,
      CpuTimes cpu,
      long balancerProcessTicks,
      long frontBytes,
      double jitMsPerSecond) {
    double n = Math.max(1, wrk.requests());
    return new Measurement(
        system.label(),
        mode.label(),
        size.token(),
        size.bytes(),
        repeat,
        wrk.requests(),
        wrk.seconds(),
        wrk.requests() / Math.max(1e-9, wrk.seconds()),
        wrk.latencyP50Us(),
        wrk.latencyP99Us(),
        wrk.socketErrors(),
        wrk.non2xx(),
        cpu0NoiseMsPerSecond,
        cpu.cpu0Busy(),
        cpu.cpu0Softirq(),
        cpu.machineBusy(),
        balancerProcessTicks,
        frontBytes,
        cpu.cpu0Busy() * CpuTimes.MICROS_PER_TICK / n,
        balancerProcessTicks * CpuTimes.MICROS_PER_TICK / n,
        cpu.machineBusy() * CpuTimes.MICROS_PER_TICK / n,
        frontBytes / n,
        jitMsPerSecond);
  }

  long errors() {
    return socketErrors + non2xx;
  }
}
