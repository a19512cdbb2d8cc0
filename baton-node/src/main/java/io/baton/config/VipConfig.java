package io.baton.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;

/**
 * A virtual address and port that clients connect to, how the dispatcher reads new connections on
 * it, and where it routes them. Immutable.
 *
 * @param address IPv4 or IPv6 address owned by the dispatchers on the front network
 * @param port TCP port
 * @param mode what the dispatcher reads before routing
 * @param defaultPool the pool for connections that match no rule (every l4 connection)
 * @param rules tried in order; empty for l4
 * @param reroute whether later requests of a keep-alive connection are routed too (http only)
 * @param delayFirstAck whether the dispatcher leaves the client's first bytes unacknowledged (a
 *     delayed ACK, as HAProxy's {@code tcp-smart-accept}): the server that takes the connection
 *     acknowledges them with its answer, or on its own if it has sent nothing within {@code
 *     OwedAck}'s delay, so the dispatcher node sends one packet fewer per connection
 */
public record VipConfig(
    InetAddress address,
    int port,
    VipMode mode,
    String defaultPool,
    List<RuleConfig> rules,
    Reroute reroute,
    boolean delayFirstAck) {
  public VipConfig {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(defaultPool, "defaultPool");
    rules = List.copyOf(rules);
    Objects.requireNonNull(reroute, "reroute");
  }

  /** A VIP whose rules route each connection's first request only. */
  public VipConfig(
      InetAddress address, int port, VipMode mode, String defaultPool, List<RuleConfig> rules) {
    this(address, port, mode, defaultPool, rules, Reroute.FIRST_REQUEST, true);
  }

  public InetSocketAddress socketAddress() {
    return new InetSocketAddress(address, port);
  }

  @Override
  public String toString() {
    return io.baton.linux.IpText.withPort(address, port) + " (" + mode.configName() + ")";
  }
}
