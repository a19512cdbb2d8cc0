package io.baton.sync;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How one node takes part in the sync plane. Immutable.
 *
 * @param node this node's name (its JGroups logical name)
 * @param roles its roles in config spelling, for its reports
 * @param fabricAddress its fabric address, for its reports
 * @param bindAddress its sync address: JGroups listens on {@code port} (members) and {@code port +
 *     1} (socket failure detection) there
 * @param port the sync port, the same on every node
 * @param seeds sync addresses to ask for the cluster when joining (any subset of the farm's nodes)
 * @param reportInterval how often the node publishes its report
 * @param staleAfter a node whose latest report is older than this gets no new connections
 * @param keys derived from the cluster key
 * @param services the VIP ports this node serves as a server, for its reports
 */
public record SyncSettings(
    String node,
    String roles,
    Inet4Address fabricAddress,
    Inet4Address bindAddress,
    int port,
    List<Inet4Address> seeds,
    Duration reportInterval,
    Duration staleAfter,
    SyncKeys keys,
    List<InetSocketAddress> services) {
  public SyncSettings(
      String node,
      String roles,
      Inet4Address fabricAddress,
      Inet4Address bindAddress,
      int port,
      List<Inet4Address> seeds,
      Duration reportInterval,
      Duration staleAfter,
      SyncKeys keys) {
    this(
        node,
        roles,
        fabricAddress,
        bindAddress,
        port,
        seeds,
        reportInterval,
        staleAfter,
        keys,
        List.of());
  }

  public SyncSettings {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(roles, "roles");
    Objects.requireNonNull(fabricAddress, "fabricAddress");
    Objects.requireNonNull(bindAddress, "bindAddress");
    seeds = List.copyOf(seeds);
    if (seeds.isEmpty())
      throw new IllegalArgumentException("the sync plane needs at least one seed");
    if (port < 1 || port > 65534)
      throw new IllegalArgumentException("sync port must be 1..65534, got " + port);
    if (staleAfter.compareTo(reportInterval.multipliedBy(2)) < 0) {
      throw new IllegalArgumentException("stale-after must be at least twice the report interval");
    }
    Objects.requireNonNull(keys, "keys");
    services = List.copyOf(services);
  }

  List<InetSocketAddress> seedAddresses() {
    return seeds.stream().map(a -> new InetSocketAddress(a, port)).toList();
  }
}
