package io.baton.server;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which peers may open a handoff connection to this server: the configured dispatcher addresses
 * ({@code server.dispatchers}), or, when none are configured, any address on this node's fabric
 * network. The cluster key authenticates every frame; this keeps hosts that have no business on the
 * fabric from even starting a session. Immutable.
 */
final class DispatcherPolicy implements Predicate<InetSocketAddress> {
  private final Set<Inet4Address> allowed;
  private final List<ClientAddressPolicy.Network> fabric;

  private DispatcherPolicy(Set<Inet4Address> allowed, List<ClientAddressPolicy.Network> fabric) {
    this.allowed = allowed;
    this.fabric = List.copyOf(fabric);
  }

  /** Call in the node's network namespace (reads the fabric device's networks). */
  static DispatcherPolicy of(List<Inet4Address> configured, String fabricDevice)
      throws SocketException {
    return new DispatcherPolicy(
        Set.copyOf(configured), ClientAddressPolicy.networksOf(List.of(fabricDevice)));
  }

  @Override
  public boolean test(InetSocketAddress peer) {
    if (!(peer.getAddress() instanceof Inet4Address a)) return false;
    if (!allowed.isEmpty()) return allowed.contains(a);
    return fabric.stream().anyMatch(n -> n.contains(a));
  }
}
