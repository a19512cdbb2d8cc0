package io.baton.dataplane;

import io.baton.transplant.FlowKey;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;
import java.util.function.Consumer;

/**
 * The IPv6 part of {@link FlowEntries}: a plain map from an IPv6 flow to its entry (its server an
 * IPv6 fabric address, or an IPv4 one when the flow is forwarded encapsulated). Kept apart so the
 * packed IPv4 store, whose memory per entry is measured at a million connections, keeps its four
 * longs; an IPv6 key (two 16-byte addresses) would need more than twice that. This store costs what
 * a {@code HashMap} of records does (~200 bytes an entry) and is made compact only if IPv6 farms
 * grow that large.
 *
 * <p>Not thread-safe; used under the same guard as {@link FlowEntries}.
 */
final class FlowEntries6 {
  private final Map<FlowKey, FlowEntries.Entry> map = new HashMap<>();
  private final Map<InetAddress, Long> perServer = new HashMap<>();

  int size() {
    return map.size();
  }

  FlowEntries.Entry get(FlowKey flow) {
    return map.get(flow);
  }

  FlowEntries.Entry put(FlowKey flow, FlowEntries.Entry entry) {
    FlowEntries.Entry old = map.put(flow, entry);
    if (old != null) count(old.server(), -1);
    count(entry.server(), 1);
    return old;
  }

  FlowEntries.Entry remove(FlowKey flow) {
    FlowEntries.Entry old = map.remove(flow);
    if (old != null) count(old.server(), -1);
    return old;
  }

  void forEach(BiConsumer<? super FlowKey, ? super FlowEntries.Entry> action) {
    map.forEach(action);
  }

  int removeIf(
      InetAddress server,
      BiPredicate<? super FlowKey, ? super FlowEntries.Entry> test,
      Consumer<? super FlowKey> removed) {
    if (!perServer.containsKey(server)) return 0;
    int n = 0;
    for (Iterator<Map.Entry<FlowKey, FlowEntries.Entry>> it = map.entrySet().iterator();
        it.hasNext(); ) {
      Map.Entry<FlowKey, FlowEntries.Entry> e = it.next();
      if (!e.getValue().server().equals(server) || !test.test(e.getKey(), e.getValue())) continue;
      it.remove();
      count(server, -1);
      removed.accept(e.getKey());
      n++;
    }
    return n;
  }

  Set<InetAddress> servers() {
    return new LinkedHashSet<>(perServer.keySet());
  }

  long entriesOf(InetAddress server) {
    return perServer.getOrDefault(server, 0L);
  }

  private void count(InetAddress server, long delta) {
    perServer.merge(server, delta, (a, b) -> a + b == 0 ? null : a + b);
  }
}
