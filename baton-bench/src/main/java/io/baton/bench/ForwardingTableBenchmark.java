package io.baton.bench;

import io.baton.dataplane.DirectForwardingTable;
import io.baton.dataplane.Vip;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.io.IOException;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
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
 * {@link DirectForwardingTable}: the dispatcher's nftables map of handed-off connections,
 * programmed through libnftables, one netlink batch per call. Runs in a namespace of its own with a
 * veth pair {@code front}/{@code fabric}, like a dispatcher's two interfaces; needs root.
 *
 * <ul>
 *   <li>{@link #putAndRemove}: one entry added and deleted again, two batches; the cost of a
 *       connection handled on its own.
 *   <li>{@link #applyBatchOf100}: 100 handoffs started in one {@link DirectForwardingTable#apply}
 *       (each adds an owner entry and a frozen entry), then cancelled in a second one; the cost
 *       under load, when the forwarding service drains its queue into one batch per turn. Divide by
 *       100 for the cost per connection.
 * </ul>
 *
 * <p>{@code presentEntries} forwarding entries are in the map before the measurement starts, as on
 * a busy dispatcher, to show whether the cost of a call grows with the table.
 *
 * <p>The table is confined to the JMH worker thread, which enters the namespace in {@link #setUp};
 * hence {@code Scope.Thread}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class ForwardingTableBenchmark {
  private static final int BATCH = 100;
  private static final int PRELOAD_BATCH = 1000;

  /** Entries already in the owner map (other connections) while the calls are measured. */
  @Param({"0", "10000"})
  public int presentEntries;

  private BenchNamespace namespace;
  private DirectForwardingTable table;
  private final Inet4Address server = StateCodecBenchmark.ipv4("198.18.1.2");
  private FlowKey single;
  private final List<DirectForwardingTable.Op> start = new ArrayList<>();
  private final List<DirectForwardingTable.Op> cancel = new ArrayList<>();

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    namespace = BenchNamespace.create("fwd");
    try {
      namespace.addFrontAndFabric();
      namespace.enter();
      Inet4Address vip = StateCodecBenchmark.ipv4("198.18.0.100");
      table =
          DirectForwardingTable.create("baton_bench", "front", "fabric", List.of(new Vip(vip, 80)));
      single = new FlowKey(StateCodecBenchmark.ipv4("203.0.113.1"), 40000, vip, 80);
      for (int i = 0; i < BATCH; i++) {
        FlowKey flow =
            new FlowKey(StateCodecBenchmark.ipv4("203.0.114." + (i + 1)), 41000 + i, vip, 80);
        start.add(new DirectForwardingTable.Forward(flow, server, false));
        start.add(new DirectForwardingTable.Freeze(flow));
        cancel.add(new DirectForwardingTable.Unfreeze(flow));
        cancel.add(new DirectForwardingTable.Unforward(flow));
      }
      checkOnce();
      preload(vip);
    } catch (IOException | RuntimeException e) {
      try {
        tearDown();
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** Refuses to measure calls that do not change the kernel's table as intended. */
  private void checkOnce() throws LinuxException {
    putAndRemove();
    table.apply(start);
    int forwarded = table.size();
    int frozen = table.frozenCount();
    table.apply(cancel);
    if (forwarded != BATCH || frozen != BATCH || table.size() != 0 || table.frozenCount() != 0) {
      throw new IllegalStateException(
          "forwarding table did not follow the batches: "
              + forwarded
              + " forwarded and "
              + frozen
              + " frozen after the start batch, "
              + table.size()
              + " and "
              + table.frozenCount()
              + " after the cancel batch");
    }
  }

  /** Adds {@link #presentEntries} owner entries (client 10.x.y.z) in batches. */
  private void preload(Inet4Address vip) throws LinuxException {
    for (int done = 0; done < presentEntries; done += PRELOAD_BATCH) {
      List<DirectForwardingTable.Op> add = new ArrayList<>();
      for (int i = done; i < Math.min(presentEntries, done + PRELOAD_BATCH); i++) {
        Inet4Address client =
            StateCodecBenchmark.ipv4(
                "10." + (i >>> 16 & 0xff) + "." + (i >>> 8 & 0xff) + "." + (i & 0xff));
        FlowKey flow = new FlowKey(client, 50000, vip, 80);
        add.add(new DirectForwardingTable.Forward(flow, server, false));
      }
      table.apply(add);
    }
    if (table.size() != presentEntries || table.frozenCount() != 0) {
      throw new IllegalStateException(
          "preloading "
              + presentEntries
              + " entries left "
              + table.size()
              + " forwarded and "
              + table.frozenCount()
              + " frozen");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    try {
      if (table != null) table.close();
    } finally {
      namespace.close();
    }
  }

  @Benchmark
  public void putAndRemove() throws LinuxException {
    table.apply(List.of(new DirectForwardingTable.Forward(single, server, false)));
    table.apply(List.of(new DirectForwardingTable.Unforward(single)));
  }

  private boolean lateThere;

  /**
   * One connection's whole life in the table: its forward at the handoff, then its retirement at
   * the close (the owner entry leaves; a late entry and a closing element take the grace): two
   * batches, four element changes, the dispatcher's nf_tables work per handoff.
   */
  @Benchmark
  public void handoffThenClose() throws LinuxException {
    table.apply(List.of(new DirectForwardingTable.Forward(single, server, false)));
    table.apply(
        List.of(
            new DirectForwardingTable.Retire(
                single, server, java.time.Duration.ofSeconds(2), lateThere)));
    lateThere = true;
  }

  @Benchmark
  public void applyBatchOf100() throws LinuxException {
    table.apply(start);
    table.apply(cancel);
  }
}
