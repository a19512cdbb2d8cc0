package io.baton.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole configuration of one node, as read and checked by {@link ConfigLoader}: every
 * cross-reference in it resolves (rules name existing pools, deliveries name this node's VIPs).
 * Immutable.
 *
 * @param node who this node is
 * @param cluster the farm's shared key and handoff port
 * @param vips the VIPs this node dispatches (empty on a server-only node)
 * @param pools by name, in file order
 * @param timeouts {@link Timeouts#DEFAULTS} for any the file leaves out
 * @param limits {@link Limits#DEFAULTS} for any the file leaves out
 * @param server present exactly when the node has role server
 * @param metrics present when the file asks for an admin/metrics endpoint
 * @param sync present when the node takes part in the sync plane
 * @param announce present when the dispatcher announces its VIPs by BGP
 * @param admin the admin endpoint for {@code baton ctl}
 * @param gateway present exactly when the node has role gateway
 */
public record BatonConfig(
    NodeConfig node,
    ClusterConfig cluster,
    List<VipConfig> vips,
    Map<String, PoolConfig> pools,
    Timeouts timeouts,
    Limits limits,
    Optional<ServerConfig> server,
    Optional<MetricsConfig> metrics,
    Optional<SyncConfig> sync,
    Optional<BgpConfig> announce,
    AdminConfig admin,
    Optional<GatewayConfig> gateway) {
  public BatonConfig {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(cluster, "cluster");
    vips = List.copyOf(vips);
    pools = Collections.unmodifiableMap(new LinkedHashMap<>(pools));
    Objects.requireNonNull(timeouts, "timeouts");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(metrics, "metrics");
    Objects.requireNonNull(sync, "sync");
    Objects.requireNonNull(announce, "announce");
    Objects.requireNonNull(admin, "admin");
    Objects.requireNonNull(gateway, "gateway");
  }

  /** The pool of that name; rules and default pools always name one that exists. */
  public PoolConfig pool(String name) {
    PoolConfig pool = pools.get(name);
    if (pool == null) {
      throw new IllegalArgumentException("no pool " + name);
    }
    return pool;
  }

  /**
   * One line for people: {@code node d1: dispatcher; 1 VIP, 3 pools, 5 members}, with {@code , 2
   * deliveries} for servers.
   */
  public String summary() {
    List<String> parts = new ArrayList<>();
    if (node.hasRole(Role.DISPATCHER) || !vips.isEmpty()) {
      int members = pools.values().stream().mapToInt(p -> p.members().size()).sum();
      parts.add(count(vips.size(), "VIP"));
      parts.add(count(pools.size(), "pool"));
      parts.add(count(members, "member"));
    }
    server.ifPresent(s -> parts.add(count(s.deliveries().size(), "delivery", "deliveries")));
    gateway.ifPresent(
        g ->
            parts.add(
                "LAN "
                    + g.lan().address().getHostAddress()
                    + ", WAN "
                    + g.wan().address().getHostAddress()
                    + ", serves "
                    + g.serves()));
    return "node " + node.name() + ": " + node.rolesText() + "; " + String.join(", ", parts);
  }

  private static String count(int n, String noun) {
    return count(n, noun, noun + "s");
  }

  private static String count(int n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }
}
