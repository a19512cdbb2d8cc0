package io.baton.config;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * Reads the {@code node} section: name, roles and interfaces. Role dispatcher needs a front
 * interface; every node needs a fabric interface.
 *
 * <p>Stateless.
 */
final class NodeBinder {
  private NodeBinder() {}

  static NodeConfig bind(ConfigField node) throws ConfigException {
    // A gateway-only node has no farm interfaces: its LAN and WAN are in the gateway section.
    node.allowKeys("name", "roles", "interfaces");
    String name = node.get("name").required().asName(Names.NODE, Names.NODE_TEXT);
    Set<Role> roles =
        roles(node.get("roles").required("is required (dispatcher, server, gateway)"));

    ConfigField interfaces = node.get("interfaces");
    if (roles.contains(Role.DISPATCHER) || roles.contains(Role.SERVER)) interfaces.required();
    if (interfaces.isPresent()) interfaces.allowKeys("front", "fabric", "sync");
    ConfigField front = interfaces.get("front");
    if (roles.contains(Role.DISPATCHER)) {
      front.required("is required for role dispatcher (clients reach the VIPs there)");
    }
    ConfigField fabric = interfaces.get("fabric");
    if (roles.contains(Role.DISPATCHER) || roles.contains(Role.SERVER)) {
      fabric.required("is required (handoffs and forwarded packets use it)");
    }
    return new NodeConfig(
        name,
        roles,
        optionalInterface(front, true),
        optionalInterface(fabric, true),
        // The sync plane (JGroups' bind address, the farm's reports) is IPv4 only for now.
        optionalInterface(interfaces.get("sync"), false));
  }

  /** A list of roles, or a single role; errors are reported as {@code node.roles}. */
  private static Set<Role> roles(ConfigField field) throws ConfigException {
    Set<Role> roles = EnumSet.noneOf(Role.class);
    for (ConfigField element : field.elements()) {
      Role role;
      try {
        role = element.asEnum(Role.class, "role");
      } catch (ConfigException e) {
        throw new ConfigException(e.source(), e.line(), e.column(), field.path(), e.reason());
      }
      if (!roles.add(role)) {
        throw element.error("role '" + role.configName() + "' is listed twice");
      }
    }
    if (roles.isEmpty()) {
      throw field.error("must name at least one role (dispatcher, server, gateway)");
    }
    return roles;
  }

  private static Optional<InterfaceConfig> optionalInterface(ConfigField field, boolean ipv6)
      throws ConfigException {
    return field.isPresent() ? Optional.of(networkInterface(field, ipv6)) : Optional.empty();
  }

  /** A device and address; IPv6 addresses only where {@code ipv6} (front and fabric). */
  private static InterfaceConfig networkInterface(ConfigField field, boolean ipv6)
      throws ConfigException {
    field.allowKeys("device", "address");
    String device = field.get("device").required().asName(Names.DEVICE, Names.DEVICE_TEXT);
    ConfigField address = field.get("address").required();
    return new InterfaceConfig(device, ipv6 ? address.asIp() : address.asIpv4());
  }
}
