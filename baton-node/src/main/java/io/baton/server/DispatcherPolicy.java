package io.baton.server;

import java.net.InetAddress;
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
  private final Set<InetAddress> allowed;
  private final List<ClientAddressPolicy.Network> fabric;

  private DispatcherPolicy(Set<InetAddress> allowed, List<ClientAddressPolicy.Network> fabric) {
    this.allowed = allowed;
    this.fabric = List.copyOf(fabric);
  }

  /** Call in the node's network namespace (reads the fabric device's networks). */
  static DispatcherPolicy of(List<? extends InetAddress> configured, String fabricDevice)
      throws SocketException {
    return new DispatcherPolicy(
        Set.copyOf(configured), ClientAddressPolicy.networksOf(List.of(fabricDevice)));
  }

  @Override
  public boolean test(InetSocketAddress peer) {
    InetAddress a = peer.getAddress();
    if (a == null) return false;
    if (!allowed.isEmpty()) return allowed.contains(a);
    return fabric.stream().anyMatch(n -> n.contains(a));
  }
}
