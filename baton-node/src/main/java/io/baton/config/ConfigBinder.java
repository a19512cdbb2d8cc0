package io.baton.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a YAML tree into a checked {@link BatonConfig}: reads each section with its binder, in the
 * order their cross-references need (pools before the VIPs that name them, VIPs before the
 * deliveries that name them), fills in defaults, and applies the checks that span sections.
 *
 * <p>Stateless.
 */
final class ConfigBinder {
  private ConfigBinder() {}

  static BatonConfig bind(ConfigField root, Path baseDirectory) throws ConfigException {
    root.allowKeys(
        "node",
        "cluster",
        "vips",
        "pools",
        "timeouts",
        "limits",
        "server",
        "metrics",
        "sync",
        "announce",
        "admin",
        "gateway");
    NodeConfig node = NodeBinder.bind(root.get("node").required());
    ClusterConfig cluster =
        ClusterBinder.bind(
            root.get("cluster").required("is required (its key authenticates handoffs)"),
            baseDirectory);
    Map<String, PoolConfig> pools =
        PoolsBinder.bind(root.get("pools"), root.get("sync").isPresent());
    List<VipConfig> vips = VipsBinder.bind(root.get("vips"), pools);
    Optional<GatewayConfig> gateway = GatewayBinder.bind(root.get("gateway"), node);
    if (node.hasRole(Role.DISPATCHER) && vips.isEmpty()) {
      throw root.get("vips").error("role dispatcher needs at least one VIP");
    }
    Timeouts timeouts = timeouts(root.get("timeouts"));
    Limits limits = limits(root.get("limits"));
    Optional<ServerConfig> server =
        ServerBinder.bind(root.get("server"), node, vips, baseDirectory);
    return new BatonConfig(
        node,
        cluster,
        vips,
        pools,
        timeouts,
        limits,
        server,
        metrics(root.get("metrics")),
        sync(root.get("sync"), node),
        announce(root.get("announce"), node, vips),
        admin(root.get("admin")),
        gateway);
  }

  private static Optional<BgpConfig> announce(
      ConfigField field, NodeConfig node, List<VipConfig> vips) throws ConfigException {
    if (!field.isPresent()) {
      return Optional.empty();
    }
    if (!node.hasRole(Role.DISPATCHER)) {
      throw field.error("only for nodes with role dispatcher (they announce the VIPs)");
    }
    for (VipConfig v : vips) {
      if (v.address() instanceof java.net.Inet6Address) {
        throw field.error(
            "announces IPv4 VIPs only for now; VIP "
                + io.baton.linux.IpText.of(v.address())
                + " is IPv6");
      }
    }
    field.allowKeys("bgp");
    ConfigField bgp =
        field.get("bgp").required("is required: how this dispatcher announces its VIPs");
    bgp.allowKeys("as", "router-id", "neighbors", "hold-time");
    long as = asNumber(bgp.get("as").required());
    ConfigField idField = bgp.get("router-id");
    java.net.Inet4Address routerId;
    if (idField.isPresent()) {
      routerId = idField.asIpv4();
    } else if (node.front()
            .orElseThrow(() -> bgp.error("needs router-id, or node.interfaces.front"))
            .address()
        instanceof java.net.Inet4Address front) {
      routerId = front;
    } else {
      throw bgp.error("needs router-id (an IPv4 address): node.interfaces.front is IPv6");
    }
    ConfigField neighborsField =
        bgp.get("neighbors").required("is required: the routers to announce the VIPs to");
    List<BgpConfig.Neighbor> neighbors = new java.util.ArrayList<>();
    for (ConfigField n : neighborsField.list()) {
      n.allowKeys("address", "as");
      neighbors.add(
          new BgpConfig.Neighbor(
              n.get("address").required().asIpv4(), asNumber(n.get("as").required())));
    }
    if (neighbors.isEmpty()) throw neighborsField.error("must list at least one neighbor");
    ConfigField holdField = bgp.get("hold-time");
    Duration hold = duration(holdField, BgpConfig.DEFAULT_HOLD_TIME);
    if (hold.compareTo(Duration.ofSeconds(3)) < 0
        || hold.compareTo(Duration.ofSeconds(65535)) > 0) {
      throw holdField.error("must be 3s..65535s (BGP), got " + Durations.format(hold));
    }
    return Optional.of(new BgpConfig(as, routerId, neighbors, hold));
  }

  private static long asNumber(ConfigField field) throws ConfigException {
    String text = field.asString();
    try {
      long as = Long.parseLong(text);
      if (as >= 1 && as <= 4_294_967_294L) return as;
    } catch (NumberFormatException e) {
      // below
    }
    throw field.error("must be an AS number 1..4294967294, got '" + text + "'");
  }

  private static Optional<SyncConfig> sync(ConfigField field, NodeConfig node)
      throws ConfigException {
    if (!field.isPresent()) {
      return Optional.empty();
    }
    field.allowKeys("port", "seeds", "report-interval", "stale-after");
    if (node.sync().isEmpty()) {
      throw field.error("needs node.interfaces.sync: the address this node's sync plane binds");
    }
    if (node.fabricInterface().isPresent()
        && node.fabric().address() instanceof java.net.Inet6Address fabric) {
      throw field.error(
          "carries IPv4 fabric addresses only for now; node.interfaces.fabric is "
              + io.baton.linux.IpText.of(fabric));
    }
    ConfigField port = field.get("port");
    int syncPort = port.isPresent() ? port.asInt(1, 65534) : SyncConfig.DEFAULT_PORT;
    ConfigField seedsField =
        field
            .get("seeds")
            .required(
                "is required: the sync addresses of some of the farm's nodes, asked when joining");
    List<java.net.Inet4Address> seeds = new java.util.ArrayList<>();
    for (ConfigField seed : seedsField.list()) seeds.add(seed.asIpv4());
    if (seeds.isEmpty()) throw seedsField.error("must list at least one sync address");
    ConfigField intervalField = field.get("report-interval");
    Duration interval = duration(intervalField, SyncConfig.DEFAULT_REPORT_INTERVAL);
    ConfigField staleField = field.get("stale-after");
    Duration stale = duration(staleField, SyncConfig.DEFAULT_STALE_AFTER);
    if (stale.compareTo(interval.multipliedBy(2)) < 0) {
      throw (staleField.isPresent() ? staleField : intervalField)
          .error(
              "stale-after ("
                  + Durations.format(stale)
                  + ") must be at least twice report-interval ("
                  + Durations.format(interval)
                  + ")");
    }
    return Optional.of(new SyncConfig(syncPort, seeds, interval, stale));
  }

  private static Timeouts timeouts(ConfigField field) throws ConfigException {
    Timeouts defaults = Timeouts.DEFAULTS;
    if (!field.isPresent()) {
      return defaults;
    }
    field.refuseRemovedKey(
        "forwarding-entry", "forwarding entries now live as long as their connection");
    field.allowKeys(
        "first-byte",
        "head",
        "handoff",
        "close-grace",
        "idle",
        "fabric-dead-after",
        "fabric-heartbeat",
        "udp-flow-idle");
    Duration firstByte = duration(field.get("first-byte"), defaults.firstByte());
    ConfigField headField = field.get("head");
    Duration head = duration(headField, defaults.head());
    if (head.compareTo(firstByte) < 0) {
      throw headField.isPresent()
          ? headField.error(
              "must be at least first-byte ("
                  + Durations.format(firstByte)
                  + "), got "
                  + Durations.format(head))
          : field
              .get("first-byte")
              .error(
                  "must not exceed head ("
                      + Durations.format(head)
                      + ", the default), got "
                      + Durations.format(firstByte));
    }
    ConfigField deadAfterField = field.get("fabric-dead-after");
    Duration deadAfter = duration(deadAfterField, defaults.fabricDeadAfter());
    ConfigField heartbeatField = field.get("fabric-heartbeat");
    Duration heartbeat = duration(heartbeatField, defaults.fabricHeartbeat());
    if (heartbeat.multipliedBy(2).compareTo(deadAfter) >= 0) {
      // Name the field the file wrote; if it wrote both, the heartbeat is the one to shorten.
      throw heartbeatField.isPresent()
          ? heartbeatField.error(
              "must be less than half of fabric-dead-after ("
                  + Durations.format(deadAfter)
                  + "), got "
                  + Durations.format(heartbeat))
          : deadAfterField.error(
              "must be more than twice fabric-heartbeat ("
                  + Durations.format(heartbeat)
                  + ", the default), got "
                  + Durations.format(deadAfter));
    }
    return new Timeouts(
        firstByte,
        head,
        duration(field.get("handoff"), defaults.handoff()),
        duration(field.get("close-grace"), defaults.closeGrace()),
        duration(field.get("idle"), defaults.idle()),
        deadAfter,
        heartbeat,
        duration(field.get("udp-flow-idle"), defaults.udpFlowIdle()));
  }

  private static Duration duration(ConfigField field, Duration defaultValue)
      throws ConfigException {
    return field.isPresent() ? field.asDuration() : defaultValue;
  }

  private static Limits limits(ConfigField field) throws ConfigException {
    Limits defaults = Limits.DEFAULTS;
    if (!field.isPresent()) {
      return defaults;
    }
    field.allowKeys(
        "max-head-bytes",
        "max-connections",
        "max-pending-connections",
        "max-pending-per-client",
        "max-header-count");
    int pending =
        integer(
            field.get("max-pending-connections"),
            1,
            Limits.MAX_PENDING_CONNECTIONS,
            defaults.maxPendingConnections());
    ConfigField perClientField = field.get("max-pending-per-client");
    int perClient =
        integer(
            perClientField,
            1,
            Limits.MAX_PENDING_CONNECTIONS,
            Math.min(defaults.maxPendingPerClient(), pending));
    if (perClient > pending) {
      throw perClientField.error(
          "must not exceed max-pending-connections (" + pending + "), got " + perClient);
    }
    return new Limits(
        integer(
            field.get("max-head-bytes"),
            Limits.MIN_HEAD_BYTES,
            Limits.MAX_HEAD_BYTES,
            defaults.maxHeadBytes()),
        integer(field.get("max-connections"), 1, Limits.MAX_CONNECTIONS, defaults.maxConnections()),
        pending,
        perClient,
        integer(
            field.get("max-header-count"), 1, Limits.MAX_HEADER_COUNT, defaults.maxHeaderCount()));
  }

  private static int integer(ConfigField field, int min, int max, int defaultValue)
      throws ConfigException {
    return field.isPresent() ? field.asInt(min, max) : defaultValue;
  }

  private static AdminConfig admin(ConfigField field) throws ConfigException {
    if (!field.isPresent()) return AdminConfig.DEFAULT;
    field.allowKeys("listen", "enabled");
    boolean enabled = !field.get("enabled").isPresent() || field.get("enabled").asBoolean();
    var listen =
        field.get("listen").isPresent()
            ? field.get("listen").asIpv4SocketAddress(true)
            : AdminConfig.DEFAULT.listen();
    return new AdminConfig(listen, enabled);
  }

  private static Optional<MetricsConfig> metrics(ConfigField field) throws ConfigException {
    if (!field.isPresent()) {
      return Optional.empty();
    }
    field.allowKeys("listen");
    return Optional.of(new MetricsConfig(field.get("listen").required().asIpv4SocketAddress(true)));
  }
}
