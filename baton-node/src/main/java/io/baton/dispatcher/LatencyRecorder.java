package io.baton.dispatcher;

import java.util.Arrays;

/**
 * The most recent latency samples of one stage (a ring of fixed size) and their percentiles, for
 * the demo summary, logs and benchmarks. Thread-safe (guarded by {@code this}); recording costs a
 * lock and an array store.
 */
public final class LatencyRecorder {
  private final long[] ring;
  private long count;

  public LatencyRecorder(int capacity) {
    ring = new long[capacity];
  }

  public synchronized void record(long nanos) {
    ring[(int) (count++ % ring.length)] = nanos;
  }

  /** Samples recorded since the start (the ring keeps only the latest). */
  public synchronized long count() {
    return count;
  }

  /** The {@code p}-th percentile (0..100) of the retained samples in nanoseconds; 0 if none. */
  public synchronized long percentileNanos(double p) {
    int n = (int) Math.min(count, ring.length);
    if (n == 0) return 0;
    long[] sorted = Arrays.copyOf(ring, n);
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * n);
    return sorted[Math.max(0, Math.min(n - 1, rank - 1))];
  }

  /** "median 412 µs, p99 1.9 ms (n=1000)". */
  public String summary() {
    return "median "
        + micros(percentileNanos(50))
        + ", p99 "
        + micros(percentileNanos(99))
        + " (n="
        + count()
        + ")";
  }

  /** "412 µs", or "12 ms" from 10 ms up. */
  public static String micros(long ns) {
    return ns >= 10_000_000 ? ns / 1_000_000 + " ms" : ns / 1000 + " µs";
  }
}
