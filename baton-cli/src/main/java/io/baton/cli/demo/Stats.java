package io.baton.cli.demo;

import java.util.Arrays;

/** Median and tail of a sample of durations in nanoseconds. Not thread-safe. */
final class Stats {
  private long[] samples = new long[64];
  private int count;

  void add(long ns) {
    if (count == samples.length) samples = Arrays.copyOf(samples, count * 2);
    samples[count++] = ns;
  }

  int count() {
    return count;
  }

  /** The {@code p}-th percentile (0..100), nearest rank. */
  long percentileNs(double p) {
    if (count == 0) return 0;
    long[] sorted = Arrays.copyOf(samples, count);
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * count);
    return sorted[Math.max(0, Math.min(count - 1, rank - 1))];
  }

  /** "median 41 µs, p99 97 µs" */
  String summary() {
    return "median " + micros(percentileNs(50)) + ", p99 " + micros(percentileNs(99));
  }

  static String micros(long ns) {
    return ns >= 10_000_000 ? (ns / 1_000_000) + " ms" : String.format("%.0f µs", ns / 1000.0);
  }
}
