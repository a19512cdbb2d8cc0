package io.baton.server;

import io.baton.server.delivery.Movable;
import io.baton.transplant.FlowKey;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The connections this server serves now, by 4-tuple, as a live migration and {@code baton ctl
 * connections} see them: who brought each (a dispatcher, or the server it migrated from), with
 * which handoff, since when, and the delivery's handle to move it. Thread-safe.
 */
final class LiveConnections {
  /** One served connection. {@code sinceMs}: wall clock, for ages in listings. */
  record Live(
      FlowKey flow, String from, long handoffId, String summary, long sinceMs, Movable movable) {}

  private final ConcurrentHashMap<FlowKey, Live> byFlow = new ConcurrentHashMap<>();

  void add(Live live) {
    byFlow.put(live.flow(), live);
  }

  /**
   * Removes {@code live} if it is still the flow's entry (a later connection on the 4-tuple stays).
   */
  void remove(Live live) {
    byFlow.remove(live.flow(), live);
  }

  Optional<Live> get(FlowKey flow) {
    return Optional.ofNullable(byFlow.get(flow));
  }

  List<Live> all() {
    return List.copyOf(byFlow.values());
  }

  int size() {
    return byFlow.size();
  }
}
