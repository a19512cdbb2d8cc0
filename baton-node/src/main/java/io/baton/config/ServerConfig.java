package io.baton.config;

import java.util.List;

/**
 * The server-agent part of a node with role server. Immutable.
 *
 * @param applyHostPreparation {@code false} (default): check the host (VIP on {@code lo},
 *     arp_ignore/arp_announce, rp_filter, the nftables guard) and refuse to start if it is not
 *     ready; {@code true}: make those settings
 * @param deliveries at least one; one per served VIP address and port
 * @param dispatchers the fabric addresses that may open handoff connections; empty (default):
 *     any address on this node's fabric network
 */
public record ServerConfig(boolean applyHostPreparation, List<Delivery> deliveries,
    List<java.net.Inet4Address> dispatchers) {
  public ServerConfig {
    deliveries = List.copyOf(deliveries);
    dispatchers = List.copyOf(dispatchers);
  }

  public ServerConfig(boolean applyHostPreparation, List<Delivery> deliveries) {
    this(applyHostPreparation, deliveries, List.of());
  }
}
