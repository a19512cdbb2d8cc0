package io.baton.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.FlowEntries.Entry;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link FlowEntries} against a {@link HashMap} doing the same operations. */
class FlowEntriesTest {
  private static final Inet4Address VIP = ServerIndex.toAddress(0xC6120064); // 198.18.0.100
  private static final Inet4Address[] SERVERS = {
    ServerIndex.toAddress(0xC612010B),
    ServerIndex.toAddress(0xC612010C),
    ServerIndex.toAddress(0xC612010D)
  };

  private static FlowKey flow(int i) {
    // Many clients behind few addresses, two VIP ports: keys differ in every field.
    return new FlowKey(
        ServerIndex.toAddress(0xC6120A00 + (i % 7)),
        1024 + (i / 7) % 60000,
        VIP,
        i / (7 * 60000) % 2 == 0 ? 80 : 443);
  }

  private static Entry entry(int server, long token) {
    return new Entry(SERVERS[server], token, token * 3);
  }

  @Test
  void getPutRemoveLikeAHashMap() {
    FlowEntries map = new FlowEntries();
    assertThat(map.isEmpty()).isTrue();
    assertThat(map.get(flow(1))).isNull();
    assertThat(map.put(flow(1), entry(0, 7))).isNull();
    assertThat(map.get(flow(1))).isEqualTo(entry(0, 7));
    assertThat(map.put(flow(1), entry(1, 8))).isEqualTo(entry(0, 7));
    assertThat(map.size()).isEqualTo(1);
    assertThat(map.entriesOf(SERVERS[0])).isZero();
    assertThat(map.entriesOf(SERVERS[1])).isEqualTo(1);
    assertThat(map.remove(flow(2))).isNull();
    assertThat(map.remove(flow(1))).isEqualTo(entry(1, 8));
    assertThat(map.isEmpty()).isTrue();
    assertThat(map.servers()).isEmpty();
  }

  @Test
  void randomOperationsOnACrowdedKeySpaceMatchAHashMap() {
    // 300 keys, sizes swinging from empty to full: the index grows and shrinks many times and
    // every removal shifts probe runs that wrap around the end of the index.
    Random random = new Random(42);
    FlowEntries map = new FlowEntries();
    Map<FlowKey, Entry> model = new HashMap<>();
    for (int step = 0; step < 200_000; step++) {
      FlowKey f = flow(random.nextInt(300));
      int phase = step / 20_000 % 2; // filling, then draining
      int op = random.nextInt(10);
      if (op < (phase == 0 ? 6 : 3)) {
        Entry e = entry(random.nextInt(3), step);
        assertThat(map.put(f, e)).isEqualTo(model.put(f, e));
      } else if (op < 9) {
        assertThat(map.remove(f)).isEqualTo(model.remove(f));
      } else {
        assertThat(map.get(f)).isEqualTo(model.get(f));
      }
      assertThat(map.size()).isEqualTo(model.size());
      if (step % 5_000 == 0) assertSame(map, model);
    }
    assertSame(map, model);
  }

  @Test
  void removeIfRemovesOnlyTheServersMatchingEntriesAndNamesEach() {
    FlowEntries map = new FlowEntries();
    Map<FlowKey, Entry> model = new HashMap<>();
    for (int i = 0; i < 10_000; i++) {
      Entry e = entry(i % 3, i);
      map.put(flow(i), e);
      model.put(flow(i), e);
    }
    List<FlowKey> removed = new ArrayList<>();
    int n = map.removeIf(SERVERS[1], (f, e) -> e.token() % 2 == 0, removed::add);
    Set<FlowKey> expected = new HashSet<>();
    for (Iterator<Map.Entry<FlowKey, Entry>> it = model.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<FlowKey, Entry> e = it.next();
      if (e.getValue().server().equals(SERVERS[1]) && e.getValue().token() % 2 == 0) {
        expected.add(e.getKey());
        it.remove();
      }
    }
    assertThat(n).isEqualTo(expected.size()).isEqualTo(removed.size());
    assertThat(new HashSet<>(removed)).isEqualTo(expected);
    assertSame(map, model);

    assertThat(map.removeIf(SERVERS[2], (f, e) -> true, f -> {}))
        .isEqualTo(model.values().stream().filter(e -> e.server().equals(SERVERS[2])).count());
    model.values().removeIf(e -> e.server().equals(SERVERS[2]));
    assertSame(map, model);
    assertThat(map.servers()).containsExactlyInAnyOrder(SERVERS[0], SERVERS[1]);
    assertThat(map.removeIf(ServerIndex.toAddress(0x0A000001), (f, e) -> true, f -> {})).isZero();
  }

  @Test
  void primitivePutIsTheSameAsPuttingTheFlow() {
    FlowEntries a = new FlowEntries();
    FlowEntries b = new FlowEntries();
    FlowKey f = new FlowKey(ServerIndex.toAddress(0xC6120A07), 65535, VIP, 443);
    a.put(f, new Entry(SERVERS[2], 0, Long.MIN_VALUE));
    b.put(0xC6120A07, 65535, 0xC6120064, 443, 0xC612010D, 0, Long.MIN_VALUE);
    assertThat(b.get(f)).isEqualTo(a.get(f)).isEqualTo(new Entry(SERVERS[2], 0, Long.MIN_VALUE));
    List<FlowKey> keys = new ArrayList<>();
    b.forEach((k, e) -> keys.add(k));
    assertThat(keys).containsExactly(f);
  }

  @Test
  void aMillionEntries() {
    int n = 1_000_000;
    FlowEntries map = new FlowEntries();
    for (int i = 0; i < n; i++) {
      map.put(0xC6120A00 + i / 50_000, 1024 + i % 50_000, 0xC6120064, 80, 0xC612010B + i % 3, i, i);
    }
    assertThat(map.size()).isEqualTo(n);
    for (int i = 0; i < n; i += 997) {
      FlowKey f =
          new FlowKey(ServerIndex.toAddress(0xC6120A00 + i / 50_000), 1024 + i % 50_000, VIP, 80);
      assertThat(map.get(f)).isEqualTo(new Entry(SERVERS[i % 3], i, i));
    }
    assertThat(map.removeIf(SERVERS[0], (f, e) -> true, f -> {})).isEqualTo((n + 2) / 3);
    assertThat(map.size()).isEqualTo(n - (n + 2) / 3);
    long[] seen = new long[3];
    map.forEach((f, e) -> seen[(int) (e.token() % 3)]++);
    assertThat(seen).containsExactly(0, (n + 1) / 3, n / 3);
    for (int i = 1; i < n; i += 3) {
      map.remove(
          new FlowKey(ServerIndex.toAddress(0xC6120A00 + i / 50_000), 1024 + i % 50_000, VIP, 80));
    }
    assertThat(map.size()).isEqualTo(n / 3);
    assertThat(map.servers()).containsExactly(SERVERS[2]);
  }

  private static void assertSame(FlowEntries map, Map<FlowKey, Entry> model) {
    Map<FlowKey, Entry> seen = new HashMap<>();
    map.forEach((f, e) -> assertThat(seen.put(f, e)).as("visited once: %s", f).isNull());
    assertThat(seen).isEqualTo(model);
    for (Map.Entry<FlowKey, Entry> e : model.entrySet())
      assertThat(map.get(e.getKey())).isEqualTo(e.getValue());
    for (Inet4Address s : SERVERS) {
      assertThat(map.entriesOf(s))
          .isEqualTo(model.values().stream().filter(e -> e.server().equals(s)).count());
    }
  }
}
