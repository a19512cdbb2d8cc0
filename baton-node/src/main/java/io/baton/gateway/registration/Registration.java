package io.baton.gateway.registration;

import io.baton.gateway.wan.WanParameters;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One entry of the proxy registration table: connections to {@code remote} on one of {@code ports}
 * are intercepted and carried to {@code peer} with {@code params} until {@code expiresAt}.
 * Immutable.
 *
 * @param remote the remote server's address (the table's key)
 * @param ports the TCP ports intercepted, 1 to 64 of them
 * @param peer the peer gateway's tunnel address near the remote server
 * @param qos the service class {@code params} were derived from
 * @param params the WAN leg's parameters
 * @param expiresAt when the entry lapses unless renewed
 * @param registeredFrom the address the registration came from, for listings
 */
public record Registration(
    InetAddress remote,
    List<Integer> ports,
    InetSocketAddress peer,
    QosClass qos,
    WanParameters params,
    Instant expiresAt,
    String registeredFrom) {
  public Registration {
    Objects.requireNonNull(remote, "remote");
    ports = List.copyOf(ports);
    if (ports.isEmpty() || ports.size() > 64)
      throw new IllegalArgumentException("1 to 64 ports, got " + ports.size());
    for (int p : ports) if (p < 1 || p > 65535) throw new IllegalArgumentException("port " + p);
    Objects.requireNonNull(peer, "peer");
    Objects.requireNonNull(qos, "qos");
    Objects.requireNonNull(params, "params");
    Objects.requireNonNull(expiresAt, "expiresAt");
    Objects.requireNonNull(registeredFrom, "registeredFrom");
  }

  /** Connections registered under the same peer and parameters share a trunk. */
  public String trunkKey() {
    return peer.getAddress().getHostAddress() + ":" + peer.getPort() + "/" + params;
  }
}
