package io.baton.config;

import java.util.List;

/**
 * The server-agent part of a node with role server. Immutable.
 *
 * @param applyHostPreparation {@code false} (default): check the host (VIP on {@code lo},
 *     arp_ignore/arp_announce, rp_filter, the nftables guard) and refuse to start if it is not
 *     ready; {@code true}: make those settings
 * @param deliveries at least one; one per served VIP address and port
 * @param dispatchers the fabric addresses that may open handoff connections; empty (default): any
 *     address on this node's fabric network
 * @param healthChecks what the agent checks of its application (all must pass); by default a TCP
 *     connect to each relay delivery's application, none for embedded ones
 */
public record ServerConfig(
    boolean applyHostPreparation,
    List<Delivery> deliveries,
    List<java.net.InetAddress> dispatchers,
    List<HealthCheckConfig> healthChecks) {
  public ServerConfig {
    deliveries = List.copyOf(deliveries);
    dispatchers = List.copyOf(dispatchers);
    healthChecks = List.copyOf(healthChecks);
  }

  public ServerConfig(boolean applyHostPreparation, List<Delivery> deliveries) {
    this(applyHostPreparation, deliveries, List.of(), List.of());
  }
}
