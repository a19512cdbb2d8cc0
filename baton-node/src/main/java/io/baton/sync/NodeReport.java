package io.baton.sync;

import java.net.Inet4Address;
import java.util.List;
import java.util.Objects;

/**
 * What a node tells the farm a few times a second. Immutable.
 *
 * @param node the node's name ({@code node.name})
 * @param roles its roles in config spelling, {@code dispatcher+server}
 * @param fabricAddress its fabric address (where handoffs and forwarded packets reach it)
 * @param incarnation the start time of the reporting process (ms since the epoch): a restarted
 *     node's reports supersede those of its earlier process
 * @param sequence grows by one with each report of an incarnation; an older or repeated one is
 *     refused (replay)
 * @param activeConnections client connections the node serves now
 * @param handoffsPerSecond handoffs it accepted (server) or made (dispatcher) over the last
 *     interval, per second
 * @param cpuPermille the node's CPU use over the last interval, 0..1000 per CPU of the host
 * @param healthy whether its application passes the health check (always true for a node without
 *     one)
 * @param health a short word on the check: {@code ok}, or what failed
 * @param draining the operator asked for no new connections
 * @param services the VIP addresses and ports it serves as a server ({@code 198.18.0.100:80}), at
 *     most {@value #MAX_SERVICES}: dispatchers whose pools discover their members use them
 */
public record NodeReport(
    String node,
    String roles,
    Inet4Address fabricAddress,
    long incarnation,
    long sequence,
    int activeConnections,
    int handoffsPerSecond,
    int cpuPermille,
    boolean healthy,
    String health,
    boolean draining,
    List<java.net.InetSocketAddress> services) {
  /** Longest node name and health text a report carries (bytes of UTF-8). */
  public static final int MAX_TEXT_BYTES = 200;

  public static final int MAX_SERVICES = 64;

  public NodeReport(
      String node,
      String roles,
      Inet4Address fabricAddress,
      long incarnation,
      long sequence,
      int activeConnections,
      int handoffsPerSecond,
      int cpuPermille,
      boolean healthy,
      String health,
      boolean draining) {
    this(
        node,
        roles,
        fabricAddress,
        incarnation,
        sequence,
        activeConnections,
        handoffsPerSecond,
        cpuPermille,
        healthy,
        health,
        draining,
        List.of());
  }

  public NodeReport {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(roles, "roles");
    Objects.requireNonNull(fabricAddress, "fabricAddress");
    Objects.requireNonNull(health, "health");
    if (node.isEmpty()) throw new IllegalArgumentException("node name must not be empty");
    if (activeConnections < 0 || handoffsPerSecond < 0 || cpuPermille < 0) {
      throw new IllegalArgumentException(
          "counts must be >= 0: "
              + activeConnections
              + ", "
              + handoffsPerSecond
              + ", "
              + cpuPermille);
    }
    if (health.length() > MAX_TEXT_BYTES) health = health.substring(0, MAX_TEXT_BYTES);
    services = List.copyOf(services);
    if (services.size() > MAX_SERVICES)
      throw new IllegalArgumentException("at most " + MAX_SERVICES + " services");
    for (var a : services) {
      if (!(a.getAddress() instanceof Inet4Address))
        throw new IllegalArgumentException("IPv4 services only: " + a);
    }
  }

  /** Whether this report comes after {@code earlier} of the same node (not a replay). */
  boolean supersedes(NodeReport earlier) {
    return incarnation > earlier.incarnation
        || (incarnation == earlier.incarnation && sequence > earlier.sequence);
  }
}
