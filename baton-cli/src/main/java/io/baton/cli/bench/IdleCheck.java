package io.baton.cli.bench;

/**
 * The pinning check: how busy CPU 0 was while the system stood started but idle for about a second.
 * Near zero means nothing but the balancer's own load lands on CPU 0. Immutable.
 *
 * @param cpu0BusyMsPerSecond CPU 0's busy time per second of wall time, in milliseconds
 * @param balancerProcessMsPerSecond the balancer processes' own CPU time per second
 * @param warmupSeconds how long the system was warmed up before the check (a JVM system's warm-up
 *     lasts until its JIT compilers are quiet, within a limit)
 * @param jitMsPerSecond the system's JIT compiler threads' CPU time per second in the last part of
 *     the warm-up (0 for a system without a JVM)
 */
record IdleCheck(
    String system,
    int repeat,
    double cpu0BusyMsPerSecond,
    double balancerProcessMsPerSecond,
    double warmupSeconds,
    double jitMsPerSecond) {}
