package io.baton.bench;

import io.baton.dataplane.ForwardingService;
import io.baton.dataplane.ForwardingTableLock;
import io.baton.dataplane.Vip;
import io.baton.transplant.FlowKey;
import java.io.IOException;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A handoff's forwarding changes through {@link ForwardingService}, the two ways the service
 * offers: queued for its owner thread and awaited ({@link #queuedToOwnerThread}, how every handoff
 * went before issue 8), and committed on the caller's own thread ({@link #batchedOnCallerThread},
 * what an event loop does now). Each operation is one handoff's entry: forward (one commit), then
 * remove it (a second commit; a real handoff's entry goes after the server's CLOSED and the grace
 * period, here at once so the table does not grow).
 *
 * <p>The difference between the two is the thread hop: two futex wake-ups and context switches per
 * commit, and the waiting for the owner thread.
 *
 * <p>With the BPF flow map attached and mirrored ({@code mirrored} true, as every dispatcher runs
 * since issue 8's tenth session), {@link #batchedOnCallerThread} also puts and removes the map's
 * entry at each commit, and {@link #putAheadThenRecorded} is the handoff's way now: the entry put
 * into the map first ({@link ForwardingService#forwardAhead}, after which the handoff goes on), its
 * nftables record committed later, then the cancel. {@link #putAheadOnly} is what a handoff waits
 * for now: one {@code bpf(2)} put (and the remove that keeps the map small).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class ForwardingServiceBenchmark {
  private static final String TABLE = "baton_bench_svc";

  private BenchNamespace namespace;
  private ForwardingService service;
  private ForwardingService.Batch batch;
  private Path lockFile;
  private final Inet4Address server = StateCodecBenchmark.ipv4("198.18.1.2");
  private final FlowKey flow =
      new FlowKey(
          StateCodecBenchmark.ipv4("203.0.113.1"),
          40000,
          StateCodecBenchmark.ipv4("198.18.0.100"),
          80);
  private long token;
  private io.baton.dataplane.FlowForwarding flows;

  /** Whether the BPF flow map is attached and mirrors the table. */
  @org.openjdk.jmh.annotations.Param({"false", "true"})
  public boolean mirrored;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    namespace = BenchNamespace.create("svc");
    try {
      namespace.addFrontAndFabric();
      namespace.enter();
      lockFile = ForwardingTableLock.pathOf(TABLE);
      service =
          ForwardingService.start(
              TABLE,
              "front",
              "fabric",
              List.of(new Vip(StateCodecBenchmark.ipv4("198.18.0.100"), 80)),
              Duration.ofSeconds(1),
              System::nanoTime);
      batch = service.batch();
      if (mirrored) {
        flows =
            io.baton.dataplane.FlowForwarding.attach(
                "front", "fabric", StateCodecBenchmark.ipv4("198.18.1.1"), 7401, 42L);
        service.mirrorInto(flows, s -> false);
        putAheadThenRecorded();
      }
      batchedOnCallerThread();
      queuedToOwnerThread();
      if (service.trackedEntries() != 0) {
        throw new IllegalStateException(
            "the handoff changes left " + service.trackedEntries() + " entries");
      }
    } catch (io.baton.linux.LinuxException e) {
      tearDown();
      throw new IOException("cannot attach the BPF flow map: " + e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      try {
        tearDown();
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    try {
      if (service != null) service.deleteTable();
      if (flows != null) flows.close();
      if (lockFile != null) Files.deleteIfExists(lockFile);
    } finally {
      namespace.close();
    }
  }

  @Benchmark
  public void queuedToOwnerThread() {
    long t = ++token;
    service.forward(flow, server, t).join();
    service.cancel(flow, t).join();
  }

  @Benchmark
  public void batchedOnCallerThread() {
    long t = ++token;
    batch.forward(flow, server, t);
    batch.commit();
    batch.cancel(flow, t);
    batch.commit();
  }

  @Benchmark
  public void putAheadThenRecorded() {
    if (!mirrored) return;
    long t = ++token;
    Object ahead = service.forwardAhead(flow, server, t);
    batch.forwardAhead(flow, server, t, ahead);
    batch.commit();
    batch.cancel(flow, t);
    batch.commit();
  }

  @Benchmark
  public void putAheadOnly() throws io.baton.linux.LinuxException {
    if (!mirrored) return;
    service.forwardAhead(flow, server, ++token);
    flows.removeTcp(flow);
  }
}
