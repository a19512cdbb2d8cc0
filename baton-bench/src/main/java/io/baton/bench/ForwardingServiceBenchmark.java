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
      batchedOnCallerThread();
      queuedToOwnerThread();
      if (service.trackedEntries() != 0) {
        throw new IllegalStateException(
            "the handoff changes left " + service.trackedEntries() + " entries");
      }
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
}
