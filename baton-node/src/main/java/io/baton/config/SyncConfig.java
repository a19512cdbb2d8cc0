package io.baton.config;

import java.net.Inet4Address;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The sync plane of a node (the {@code sync} section): absent, the node runs without it (static
 * pools, liveness from the fabric only). Immutable.
 *
 * @param port the sync port on every node's sync address ({@code port + 1} is JGroups' socket
 *     failure detection)
 * @param seeds sync addresses a starting node asks for the cluster (some or all of the farm's
 *     nodes; its own may be among them)
 * @param reportInterval how often each node publishes its load report
 * @param staleAfter a node whose latest report is older than this gets no new connections
 */
public record SyncConfig(
    int port, List<Inet4Address> seeds, Duration reportInterval, Duration staleAfter) {
  public static final int DEFAULT_PORT = 7500;
  public static final Duration DEFAULT_REPORT_INTERVAL = Duration.ofMillis(250);
  public static final Duration DEFAULT_STALE_AFTER = Duration.ofMillis(750);

  public SyncConfig {
    seeds = List.copyOf(seeds);
    Objects.requireNonNull(reportInterval, "reportInterval");
    Objects.requireNonNull(staleAfter, "staleAfter");
  }
}
