package io.baton.routing;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The dispatcher's estimate of each node's active connections: the count from the node's last load
 * report, adjusted by the dispatcher's own handoffs since. Without the adjustment every connection
 * between two reports would go to the same least-loaded node.
 *
 * <p>Usage: {@link #update} on each load report (it replaces the estimate); {@link #increment} when
 * a handoff to the node starts; {@link #decrement} when it is refused or the connection ends before
 * the next report. The count never goes below 0.
 *
 * <p>Thread-safe and lock-free: reports arrive on the sync thread, picks and handoff outcomes on
 * the event loops.
 */
public final class LoadTable implements LoadView {
  private final ConcurrentHashMap<String, AtomicInteger> active = new ConcurrentHashMap<>();

  @Override
  public int activeConnections(String node) {
    AtomicInteger count = active.get(node);
    return count == null ? 0 : count.get();
  }

  /** Replaces the estimate with a node's reported count. */
  public void update(String node, int activeConnections) {
    if (activeConnections < 0) {
      throw new IllegalArgumentException(
          "active connections of '" + node + "' must be >= 0, got " + activeConnections);
    }
    counter(node).set(activeConnections);
  }

  public void increment(String node) {
    counter(node).incrementAndGet();
  }

  public void decrement(String node) {
    counter(node).getAndUpdate(n -> n > 0 ? n - 1 : 0);
  }

  /** Every node's count now (reported, or estimated since its last report). */
  public java.util.Map<String, Integer> snapshot() {
    java.util.Map<String, Integer> out = new java.util.TreeMap<>();
    active.forEach((node, n) -> out.put(node, n.get()));
    return out;
  }

  /** Forgets a node that left the farm. */
  public void remove(String node) {
    active.remove(node);
  }

  private AtomicInteger counter(String node) {
    return active.computeIfAbsent(node, k -> new AtomicInteger());
  }

  @Override
  public String toString() {
    return "LoadTable" + active;
  }
}
