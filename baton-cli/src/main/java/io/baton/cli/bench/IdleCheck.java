package io.baton.cli.bench;

/**
 * The pinning check: how busy CPU 0 was while the system stood started but idle for about a second.
 * Near zero means nothing but the balancer's own load lands on CPU 0. Immutable.
 *
 * @param cpu0BusyMsPerSecond CPU 0's busy time per second of wall time, in milliseconds
 * @param balancerProcessMsPerSecond the balancer processes' own CPU time per second
 */
record IdleCheck(
    String system, int repeat, double cpu0BusyMsPerSecond, double balancerProcessMsPerSecond) {}
