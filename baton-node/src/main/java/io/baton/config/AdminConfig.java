package io.baton.config;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The node's admin endpoint, which {@code baton ctl} talks to ({@code admin.listen}; loopback port
 * {@value #DEFAULT_PORT} when the file says nothing). Every request carries a token derived from
 * the cluster key. Immutable.
 *
 * @param listen where it listens; {@code enabled} false ({@code admin: off}) turns it off
 */
public record AdminConfig(InetSocketAddress listen, boolean enabled) {
  public static final int DEFAULT_PORT = 9901;
  public static final AdminConfig DEFAULT =
      new AdminConfig(
          new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), DEFAULT_PORT), true);

  public AdminConfig {
    Objects.requireNonNull(listen, "listen");
  }
}
