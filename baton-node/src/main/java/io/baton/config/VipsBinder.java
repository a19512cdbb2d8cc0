package io.baton.config;

import io.baton.config.RuleConfig.Condition;
import io.baton.linux.IpText;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the {@code vips} section and its rules, resolving every pool name against the pools already
 * read. Rules must fit the VIP's mode: method, host, path-prefix and header in http VIPs, sni in
 * tls VIPs, none in l4 VIPs; and a pool that hashes on host or path must be reachable only from
 * VIPs that read them.
 *
 * <p>Stateless.
 */
final class VipsBinder {
  private VipsBinder() {}

  /** The VIPs in file order; empty if the section is absent. */
  static List<VipConfig> bind(ConfigField vips, Map<String, PoolConfig> pools)
      throws ConfigException {
    List<VipConfig> result = new ArrayList<>();
    Map<String, String> seen = new HashMap<>();
    for (ConfigField vip : vips.list()) {
      vip.allowKeys(
          "address", "port", "mode", "default-pool", "rules", "reroute", "delay-first-ack");
      ConfigField addressField = vip.get("address").required();
      InetAddress address = addressField.asIp();
      ConfigField portField = vip.get("port").required();
      int port = portField.asPort();
      ConfigField modeField = vip.get("mode");
      VipMode mode = modeField.isPresent() ? modeField.asEnum(VipMode.class, "mode") : VipMode.HTTP;
      // A UDP VIP and a TCP VIP may share address and port (DNS serves both).
      String protocol = mode == VipMode.UDP ? "udp " : "";
      String earlier =
          seen.putIfAbsent(protocol + new InetSocketAddress(address, port), vip.path());
      if (earlier != null) {
        throw portField.error(
            protocol
                + IpText.withPort(address, port)
                + " is already configured"
                + " in "
                + earlier);
      }
      String defaultPool =
          poolReference(
              vip.get("default-pool")
                  .required("is required (the pool for connections no rule" + " matches)"),
              pools,
              mode,
              address);
      ConfigField rerouteField = vip.get("reroute");
      Reroute reroute =
          rerouteField.isPresent()
              ? rerouteField.asEnum(Reroute.class, "reroute")
              : Reroute.FIRST_REQUEST;
      if (reroute == Reroute.PER_REQUEST && mode != VipMode.HTTP) {
        throw rerouteField.error("per-request routing reads every request, so it needs mode http");
      }
      ConfigField delayFirstAckField = vip.get("delay-first-ack");
      if (delayFirstAckField.isPresent() && mode == VipMode.UDP) {
        throw delayFirstAckField.error("udp VIPs have no TCP acknowledgements to delay");
      }
      boolean delayFirstAck = !delayFirstAckField.isPresent() || delayFirstAckField.asBoolean();
      result.add(
          new VipConfig(
              address,
              port,
              mode,
              defaultPool,
              rules(vip.get("rules"), mode, pools, address),
              reroute,
              delayFirstAck));
    }
    return result;
  }

  private static List<RuleConfig> rules(
      ConfigField rules, VipMode mode, Map<String, PoolConfig> pools, InetAddress vip)
      throws ConfigException {
    List<ConfigField> fields = rules.list();
    if (mode == VipMode.L4 && !fields.isEmpty()) {
      throw rules.error("l4 VIPs hand off before reading the request, so they have no rules");
    }
    if (mode == VipMode.UDP && !fields.isEmpty()) {
      throw rules.error("udp VIPs assign flows without reading them, so they have no rules");
    }
    List<RuleConfig> result = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (ConfigField rule : fields) {
      rule.allowKeys("name", "method", "host", "path-prefix", "header", "sni", "pool");
      ConfigField nameField = rule.get("name").required();
      String name = nameField.asName(Names.SIMPLE, Names.SIMPLE_TEXT);
      if (!names.add(name)) {
        throw nameField.error("rule '" + name + "' is already defined for this VIP");
      }
      List<Condition> conditions = conditions(rule, mode);
      String pool = poolReference(rule.get("pool").required(), pools, mode, vip);
      result.add(new RuleConfig(name, conditions, pool));
    }
    return result;
  }

  private static List<Condition> conditions(ConfigField rule, VipMode mode) throws ConfigException {
    List<Condition> conditions = new ArrayList<>();
    ConfigField method = rule.get("method");
    if (method.isPresent()) {
      requireMode(method, mode, VipMode.HTTP, "method rules read the HTTP request");
      conditions.add(new RuleConfig.Method(method.asName(Names.METHOD, Names.METHOD_TEXT)));
    }
    ConfigField host = rule.get("host");
    if (host.isPresent()) {
      requireMode(host, mode, VipMode.HTTP, "host rules read the HTTP Host header");
      conditions.add(new RuleConfig.Host(host.asName(Names.HOST_PATTERN, Names.HOST_PATTERN_TEXT)));
    }
    ConfigField pathPrefix = rule.get("path-prefix");
    if (pathPrefix.isPresent()) {
      requireMode(pathPrefix, mode, VipMode.HTTP, "path-prefix rules read the HTTP request");
      String prefix = pathPrefix.asString();
      if (!prefix.startsWith("/") || prefix.chars().anyMatch(c -> c <= ' ')) {
        throw pathPrefix.error("must start with / and contain no spaces, got '" + prefix + "'");
      }
      conditions.add(new RuleConfig.PathPrefix(prefix));
    }
    ConfigField header = rule.get("header");
    if (header.isPresent()) {
      requireMode(header, mode, VipMode.HTTP, "header rules read the HTTP request");
      conditions.add(header(header));
    }
    ConfigField sni = rule.get("sni");
    if (sni.isPresent()) {
      requireMode(sni, mode, VipMode.TLS, "sni rules read the TLS ClientHello");
      conditions.add(new RuleConfig.Sni(sni.asName(Names.HOST_PATTERN, Names.HOST_PATTERN_TEXT)));
    }
    if (conditions.isEmpty()) {
      throw rule.error(
          "needs a condition: "
              + (mode == VipMode.TLS ? "sni" : "method, host, path-prefix or header"));
    }
    return conditions;
  }

  private static void requireMode(ConfigField field, VipMode actual, VipMode needed, String why)
      throws ConfigException {
    if (actual != needed) {
      throw field.error(
          "only in "
              + needed.configName()
              + " VIPs ("
              + why
              + "; this VIP is "
              + actual.configName()
              + ")");
    }
  }

  /** {@code Name: value}, e.g. {@code X-Beta: 1}. */
  private static Condition header(ConfigField field) throws ConfigException {
    String text = field.asString();
    int colon = text.indexOf(':');
    String name = colon < 0 ? text : text.substring(0, colon).strip();
    String value = colon < 0 ? "" : text.substring(colon + 1).strip();
    if (!Names.HEADER_NAME.matcher(name).matches() || value.isEmpty()) {
      throw field.error("must be 'Name: value' such as 'X-Beta: 1', got '" + text + "'");
    }
    return new RuleConfig.Header(name, value);
  }

  /** The name of an existing pool that a VIP of {@code mode} at {@code vip} can feed. */
  private static String poolReference(
      ConfigField field, Map<String, PoolConfig> pools, VipMode mode, InetAddress vip)
      throws ConfigException {
    String name = field.asString();
    PoolConfig pool = pools.get(name);
    if (pool == null) {
      if (pools.isEmpty()) {
        throw field.error("unknown pool '" + name + "' (no pools are configured)");
      }
      List<String> known = List.copyOf(pools.keySet());
      String suggestion = Spelling.closest(name, known);
      throw field.error(
          "unknown pool '"
              + name
              + "' (pools: "
              + String.join(", ", known)
              + ")"
              + (suggestion == null ? "" : "; did you mean '" + suggestion + "'?"));
    }
    if (mode == VipMode.UDP && pool.discover()) {
      throw field.error(
          "pool '"
              + name
              + "' discovers its members, which udp VIPs do not support yet (servers report TCP"
              + " services only): list the members");
    }
    familyFits(field, pool, vip);
    if (mode == VipMode.UDP
        && vip instanceof Inet6Address
        && pool.forwarding() != Forwarding.ENCAP) {
      // The servers' unwrapping takes IPv4 datagrams: a flow's first datagram, sent by the
      // dispatcher itself, reaches an IPv6-fabric server no other way yet.
      throw field.error(
          "pool '"
              + name
              + "' is forwarded direct; an IPv6 udp VIP needs forwarding: encap (each flow's first"
              + " datagram reaches its server wrapped in IPv4)");
    }
    HashKey hashKey = pool.hashKey().orElse(HashKey.CLIENT_IP);
    boolean readable =
        switch (hashKey) {
          case CLIENT_IP -> true;
          case HOST -> mode == VipMode.HTTP || mode == VipMode.TLS;
          case PATH -> mode == VipMode.HTTP;
        };
    if (!readable) {
      throw field.error(
          "pool '"
              + name
              + "' hashes on "
              + hashKey.configName()
              + ", which a "
              + mode.configName()
              + " VIP does not read");
    }
    return name;
  }

  /**
   * Where the members of a pool a VIP feeds must be. Forwarded directly, an IPv6 VIP's packets go
   * with {@code fwd ip6 to} the member's fabric address and an IPv4 VIP's with {@code fwd ip to}:
   * every member needs a fabric address of the VIP's family. Forwarded encapsulated, every packet
   * (IPv4 or IPv6 inside) is wrapped in IPv4 to the member: IPv4 fabric addresses. Discovered
   * members come from the sync plane, which carries IPv4 fabric addresses only.
   */
  private static void familyFits(ConfigField field, PoolConfig pool, InetAddress vip)
      throws ConfigException {
    boolean v6 = vip instanceof Inet6Address;
    boolean encap = pool.forwarding() == Forwarding.ENCAP;
    if (v6 && pool.discover()) {
      throw field.error(
          "pool '"
              + pool.name()
              + "' discovers its members through the sync plane, which carries IPv4 fabric"
              + " addresses only; list an IPv6 VIP's members with IPv6 fabric addresses");
    }
    boolean wantV6 = v6 && !encap;
    for (MemberConfig m : pool.members()) {
      if ((m.fabricAddress() instanceof Inet6Address) != wantV6) {
        throw field.error(
            "pool '"
                + pool.name()
                + "' has member '"
                + m.node()
                + "' at "
                + (wantV6 ? "IPv4" : "IPv6")
                + " fabric address "
                + IpText.of(m.fabricAddress())
                + ", but "
                + (encap
                    ? "an encap pool wraps every packet in IPv4 to its members"
                    : "this VIP is "
                        + (v6 ? "IPv6" : "IPv4")
                        + " (its packets are forwarded with "
                        + (v6 ? "fwd ip6 to an IPv6" : "fwd ip to an IPv4")
                        + " fabric address)"));
      }
    }
  }
}
