package io.baton.server;

import io.baton.handoff.FabricMessage;
import io.baton.transplant.FlowKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The connections this server owns, by the dispatcher and handoff that brought each, and the
 * handoffs of recently closed ones. It answers a dispatcher's ABORT (did this node take that
 * handoff? then the dispatcher must not take the connection back, even if it is closed already) and
 * gives each dispatcher the inventory of all of them when its fabric session comes up.
 *
 * <p>Thread-safe: guarded by {@code this} (a few map operations per connection).
 */
final class OwnedConnections {
  /** Handoffs remembered after their connection closed, per server. */
  static final int RECENTLY_CLOSED = 65_536;

  private record Key(String dispatcher, long handoffId) {}

  private final Map<Key, FlowKey> open = new HashMap<>();
  private final LinkedHashMap<Key, Boolean> recentlyClosed =
      new LinkedHashMap<>(1024, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Boolean> eldest) {
          return size() > RECENTLY_CLOSED;
        }
      };

  synchronized void opened(String dispatcher, long handoffId, FlowKey flow) {
    open.put(new Key(dispatcher, handoffId), flow);
  }

  synchronized void closed(String dispatcher, long handoffId) {
    Key k = new Key(dispatcher, handoffId);
    if (open.remove(k) != null) recentlyClosed.put(k, Boolean.TRUE);
  }

  /** Whether this node restored the connection of that handoff (open or since closed). */
  synchronized boolean took(String dispatcher, long handoffId) {
    Key k = new Key(dispatcher, handoffId);
    return open.containsKey(k) || recentlyClosed.containsKey(k);
  }

  /** Every open connection, with the handoff that brought it. */
  synchronized List<FabricMessage.Owned> all() {
    List<FabricMessage.Owned> out = new ArrayList<>(open.size());
    open.forEach((k, flow) -> out.add(new FabricMessage.Owned(flow, k.handoffId())));
    return out;
  }

  synchronized int size() {
    return open.size();
  }
}
