package io.baton.bench;

import io.baton.linux.BpfHashMap;
import io.baton.linux.LinuxException;
import io.baton.linux.NfSetElements;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link BpfHashMap}: the same change as {@link ForwardingTableBenchmark#putAndRemove} (one 4-tuple
 * forwarding entry added and deleted again) made in a BPF hash map, one {@code bpf(2)} call each,
 * instead of an nf_tables set element, one netlink transaction each. What a forwarding table read
 * by a tc program would cost the dispatcher per handoff. Needs root (CAP_BPF).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class BpfHashMapBenchmark {
  /** Entries already in the map (other connections) while the calls are measured. */
  @Param({"0", "10000"})
  public int presentEntries;

  private BpfHashMap map;
  private byte[] single;
  private final byte[] server = {(byte) 198, 18, 1, 2};

  @Setup(Level.Trial)
  public void setUp() throws LinuxException {
    map = BpfHashMap.create(16, 4, 1 << 20);
    var vip = StateCodecBenchmark.ipv4("198.18.0.100");
    single = NfSetElements.fourTupleKey(StateCodecBenchmark.ipv4("203.0.113.1"), 40000, vip, 80);
    for (int i = 0; i < presentEntries; i++) {
      var client =
          StateCodecBenchmark.ipv4(
              "10." + (i >>> 16 & 0xff) + "." + (i >>> 8 & 0xff) + "." + (i & 0xff));
      map.put(NfSetElements.fourTupleKey(client, 50000, vip, 80), server);
    }
    putAndRemove();
    if (map.get(single).isPresent()) throw new IllegalStateException("the entry stayed in the map");
  }

  @TearDown(Level.Trial)
  public void tearDown() throws LinuxException {
    if (map != null) map.close();
  }

  @Benchmark
  public void putAndRemove() throws LinuxException {
    map.put(single, server);
    if (!map.remove(single)) throw new IllegalStateException("the entry was not in the map");
  }
}
