package io.baton.config;

import io.baton.linux.Ipv4Prefix;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads the {@code gateway} section, required exactly for nodes with role gateway.
 *
 * <p>Stateless.
 */
final class GatewayBinder {
  private GatewayBinder() {}

  static Optional<GatewayConfig> bind(ConfigField field, NodeConfig node) throws ConfigException {
    if (!node.hasRole(Role.GATEWAY)) {
      if (field.isPresent()) throw field.error("only for nodes with role gateway");
      return Optional.empty();
    }
    field.required("is required for role gateway (its LAN, WAN and daemons)");
    field.allowKeys(
        "lan",
        "wan",
        "registration",
        "tunnel-port",
        "intercept-port",
        "serves",
        "apply-host-preparation");
    InterfaceConfig lan =
        networkInterface(field.get("lan").required("is required: where LAN clients are"));
    InterfaceConfig wan =
        networkInterface(field.get("wan").required("is required: where peer gateways are reached"));
    InetSocketAddress registration =
        new InetSocketAddress(lan.address(), GatewayConfig.DEFAULT_REGISTRATION_PORT);
    Duration maxTtl = GatewayConfig.DEFAULT_MAX_TTL;
    ConfigField reg = field.get("registration");
    if (reg.isPresent()) {
      reg.allowKeys("listen", "max-ttl");
      if (reg.get("listen").isPresent())
        registration = reg.get("listen").asIpv4SocketAddress(false);
      if (reg.get("max-ttl").isPresent()) maxTtl = reg.get("max-ttl").asDuration();
    }
    int tunnelPort =
        field.get("tunnel-port").isPresent()
            ? field.get("tunnel-port").asPort()
            : GatewayConfig.DEFAULT_TUNNEL_PORT;
    int interceptPort =
        field.get("intercept-port").isPresent()
            ? field.get("intercept-port").asPort()
            : GatewayConfig.DEFAULT_INTERCEPT_PORT;
    List<Ipv4Prefix> serves = new ArrayList<>();
    for (ConfigField prefix : field.get("serves").list()) serves.add(prefix(prefix));
    boolean apply =
        field.get("apply-host-preparation").isPresent()
            && field.get("apply-host-preparation").asBoolean();
    return Optional.of(
        new GatewayConfig(
            lan, wan, registration, maxTtl, tunnelPort, interceptPort, serves, apply));
  }

  private static InterfaceConfig networkInterface(ConfigField field) throws ConfigException {
    field.allowKeys("device", "address");
    String device = field.get("device").required().asName(Names.DEVICE, Names.DEVICE_TEXT);
    return new InterfaceConfig(device, field.get("address").required().asIpv4());
  }

  private static Ipv4Prefix prefix(ConfigField field) throws ConfigException {
    String text = field.asString();
    int slash = text.indexOf('/');
    if (slash < 0) throw field.error("must be a prefix such as 198.18.7.0/24, got '" + text + "'");
    int length;
    try {
      length = Integer.parseInt(text.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw field.error("bad prefix length in '" + text + "'");
    }
    if (length < 0 || length > 32) throw field.error("prefix length must be 0-32, got " + length);
    if (!text.substring(0, slash).matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      throw field.error("'" + text + "' is not an IPv4 prefix (host names are not resolved)");
    }
    try {
      return new Ipv4Prefix(
          (Inet4Address) java.net.InetAddress.getByName(text.substring(0, slash)), length);
    } catch (java.net.UnknownHostException | ClassCastException e) {
      throw field.error("'" + text + "' is not an IPv4 prefix");
    }
  }
}
