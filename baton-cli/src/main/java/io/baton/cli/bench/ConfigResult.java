package io.baton.cli.bench;

import java.util.List;

/**
 * Every repeat of one system, mode and size, summarized as median and range. CPU figures are
 * microseconds of CPU time per request. Immutable; serialized as is into the JSON report.
 *
 * @param runs runs the medians rest on (clean runs: no socket errors, no non-2xx answers)
 * @param planned runs the plan asked for (the repeats)
 * @param excluded runs left out of the medians because wrk saw errors in them
 * @param failed runs that produced no measurement at all (wrk timed out or failed)
 * @param requests requests of all repeats together
 * @param errors socket errors plus non-2xx answers of all repeats together
 * @param balancerCpuUsPerRequest the primary figure: CPU 0 (the balancer node) busy time per
 *     request
 * @param balancerProcessUsPerRequest the balancer's processes' user + system time per request: the
 *     lower bound of the primary figure that other programs on CPU 0 cannot inflate
 * @param cpu0NoiseMsPerSecond CPU 0's busy time per second just before each run, system idle
 * @param machineCpuUsPerRequest busy time of all CPUs per request
 * @param machineCpuOverDirectUsPerRequest median machine CPU per request minus the same for the
 *     matching direct baseline at this mode and size; null for a baseline or without one
 * @param frontBytesPerRequest bytes crossing lb's front interface (both directions) per request
 * @param jitMsPerSecond the system's JIT compiler threads' CPU time per second during the runs
 */
record ConfigResult(
    String system,
    String mode,
    String size,
    int sizeBytes,
    int runs,
    int planned,
    int excluded,
    int failed,
    long requests,
    long errors,
    Spread requestsPerSecond,
    Spread latencyP50Us,
    Spread latencyP99Us,
    Spread balancerCpuUsPerRequest,
    Spread balancerProcessUsPerRequest,
    Spread cpu0NoiseMsPerSecond,
    Spread machineCpuUsPerRequest,
    Double machineCpuOverDirectUsPerRequest,
    Spread frontBytesPerRequest,
    Spread jitMsPerSecond) {

  /** "3/3", or "2/3, 1 excluded (errors)", "1/3, 2 failed". */
  String runCount() {
    String text = runs + "/" + planned;
    List<String> why = new java.util.ArrayList<>();
    if (excluded > 0) why.add(excluded + " excluded (errors)");
    if (failed > 0) why.add(failed + " failed");
    return why.isEmpty() ? text : text + ", " + String.join(", ", why);
  }
}
