package io.baton.config;

import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Who this node is: its name in the farm, its roles and its networks. Immutable.
 *
 * @param name unique in the farm; pool members name nodes by it
 * @param roles at least one role
 * @param front where clients reach VIPs; present on every dispatcher, optional on servers
 * @param fabricInterface handoffs and forwarded client packets; every farm node (dispatcher or
 *     server) has it, a gateway-only node need not
 * @param sync farm state (membership, load, ownership); optional until the sync plane exists
 */
public record NodeConfig(
    String name,
    Set<Role> roles,
    Optional<InterfaceConfig> front,
    Optional<InterfaceConfig> fabricInterface,
    Optional<InterfaceConfig> sync) {
  public NodeConfig {
    Objects.requireNonNull(name, "name");
    roles = Set.copyOf(roles);
    if (roles.isEmpty()) {
      throw new IllegalArgumentException("a node needs at least one role");
    }
    Objects.requireNonNull(front, "front");
    Objects.requireNonNull(fabricInterface, "fabricInterface");
    if (fabricInterface.isEmpty()
        && (roles.contains(Role.DISPATCHER) || roles.contains(Role.SERVER))) {
      throw new IllegalArgumentException("a dispatcher or server needs a fabric interface");
    }
    Objects.requireNonNull(sync, "sync");
  }

  /** The fabric interface; every dispatcher and server has one. */
  public InterfaceConfig fabric() {
    return fabricInterface.orElseThrow(
        () -> new IllegalStateException("node " + name + " has no fabric interface"));
  }

  public boolean hasRole(Role role) {
    return roles.contains(role);
  }

  /** The roles in their config spelling, joined with {@code +}: {@code dispatcher+server}. */
  public String rolesText() {
    return Stream.of(Role.values())
        .filter(roles::contains)
        .map(Role::configName)
        .collect(Collectors.joining("+"));
  }
}
