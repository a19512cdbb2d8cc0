package io.baton.config;

import io.baton.linux.Ipv4Prefix;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The {@code gateway} section: a split-TCP WAN gateway's networks and daemons. Immutable.
 *
 * @param lan where LAN clients are; their connections to registered remotes are intercepted
 * @param wan where peer gateways are reached; trunks are dialed from and accepted on its address
 * @param registrationListen the registration daemon's address (default: the LAN address, 7500)
 * @param maxRegistrationTtl the longest a registration may live without renewal (default 1h)
 * @param tunnelPort the port on the WAN address where peer gateways' trunks arrive (default 7600)
 * @param interceptPort the transparent listener's port that TPROXY sends intercepted connections to
 *     (default 7700)
 * @param serves destinations peers may reach through this gateway (its far-side role); empty: it
 *     accepts no streams
 * @param applyHostPreparation make the host settings the gateway needs instead of refusing to start
 *     without them
 */
public record GatewayConfig(
    InterfaceConfig lan,
    InterfaceConfig wan,
    InetSocketAddress registrationListen,
    Duration maxRegistrationTtl,
    int tunnelPort,
    int interceptPort,
    List<Ipv4Prefix> serves,
    boolean applyHostPreparation) {
  public static final int DEFAULT_REGISTRATION_PORT = 7500;
  public static final int DEFAULT_TUNNEL_PORT = 7600;
  public static final int DEFAULT_INTERCEPT_PORT = 7700;
  public static final Duration DEFAULT_MAX_TTL = Duration.ofHours(1);

  public GatewayConfig {
    Objects.requireNonNull(lan, "lan");
    Objects.requireNonNull(wan, "wan");
    Objects.requireNonNull(registrationListen, "registrationListen");
    Objects.requireNonNull(maxRegistrationTtl, "maxRegistrationTtl");
    serves = List.copyOf(serves);
  }

  /** Whether a peer may open a stream to {@code address}. */
  public boolean serves(java.net.Inet4Address address) {
    return serves.stream().anyMatch(p -> p.contains(address));
  }
}
