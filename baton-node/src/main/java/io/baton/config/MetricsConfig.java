package io.baton.config;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The admin/metrics HTTP endpoint; absent from {@link BatonConfig} when the config has none.
 * Immutable.
 *
 * @param listen address and port to bind, e.g. {@code 127.0.0.1:9400}
 */
public record MetricsConfig(InetSocketAddress listen) {
  public MetricsConfig {
    Objects.requireNonNull(listen, "listen");
  }
}
