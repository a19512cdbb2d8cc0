package io.baton.cli.bench;

/**
 * Every repeat of one system, mode and size, summarized as median and range. CPU figures are
 * microseconds of CPU time per request. Immutable; serialized as is into the JSON report.
 *
 * @param requests requests of all repeats together
 * @param errors socket errors plus non-2xx answers of all repeats together
 * @param balancerCpuUsPerRequest the primary figure: CPU 0 (the balancer node) busy time per request
 * @param balancerProcessUsPerRequest the balancer's processes' user + system time per request: the
 *     lower bound of the primary figure that other programs on CPU 0 cannot inflate
 * @param cpu0NoiseMsPerSecond CPU 0's busy time per second just before each run, system idle
 * @param machineCpuUsPerRequest busy time of all CPUs per request
 * @param machineCpuOverDirectUsPerRequest median machine CPU per request minus the same for the
 *     matching direct baseline at this mode and size; null for a baseline or without one
 * @param frontBytesPerRequest bytes crossing lb's front interface (both directions) per request
 */
record ConfigResult(
    String system,
    String mode,
    String size,
    int sizeBytes,
    int runs,
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
    Spread frontBytesPerRequest) {}
