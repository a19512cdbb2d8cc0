package io.baton.routing;

/**
 * Current load of the farm's nodes as the dispatcher knows it. Implementations must be thread-safe
 * and cheap: {@link LeastConnectionsBalancer} reads every member on each pick.
 */
@FunctionalInterface
public interface LoadView {
  /** Active connections on {@code node}; 0 for a node not heard of. */
  int activeConnections(String node);
}
