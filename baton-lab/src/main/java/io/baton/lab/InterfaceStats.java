package io.baton.lab;

/** The kernel's counters of one network interface at one moment. Immutable. */
public record InterfaceStats(
    String interfaceName,
    long rxBytes,
    long rxPackets,
    long rxDropped,
    long txBytes,
    long txPackets,
    long txDropped) {}
