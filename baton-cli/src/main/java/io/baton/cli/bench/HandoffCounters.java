package io.baton.cli.bench;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Baton dispatcher's handoff counters as its metrics endpoint shows them at one moment: the
 * number of handoffs and the cumulative buckets of {@code baton_dispatcher_handoff_seconds}. Two
 * scrapes around a run give that run's handoffs and their latency distribution ({@link #minus}).
 * Immutable.
 *
 * @param handoffs handoffs the histogram counted (ACCEPTED by a server)
 * @param upperBoundsUs bucket upper bounds in microseconds, ascending, the last one infinite
 * @param cumulative handoffs at or below each bound
 */
record HandoffCounters(long handoffs, double[] upperBoundsUs, long[] cumulative) {
  private static final String HISTOGRAM = "baton_dispatcher_handoff_seconds";
  private static final Pattern BUCKET =
      Pattern.compile("(?m)^" + HISTOGRAM + "_bucket\\{le=\"([^\"]+)\"\\} (\\S+)$");
  private static final Pattern COUNT = Pattern.compile("(?m)^" + HISTOGRAM + "_count (\\S+)$");

  /** Scrapes {@code url} from inside {@code host}'s namespace with curl. */
  static HandoffCounters scrape(Host host, String url) throws IOException {
    CommandResult r =
        host.exec(List.of("curl", "-sS", "--max-time", "5", url), Duration.ofSeconds(10));
    if (r.exitCode() != 0) {
      throw new IOException(
          "cannot read the dispatcher's metrics at " + url + ": " + r.stderr().strip());
    }
    return parse(r.stdout());
  }

  /** Parses the Prometheus text exposition; fails if the histogram is missing. */
  static HandoffCounters parse(String page) throws IOException {
    Matcher count = COUNT.matcher(page);
    if (!count.find()) throw new IOException("no " + HISTOGRAM + " in the dispatcher's metrics");
    List<double[]> buckets = new ArrayList<>();
    Matcher b = BUCKET.matcher(page);
    while (b.find()) {
      double le =
          b.group(1).equals("+Inf")
              ? Double.POSITIVE_INFINITY
              : Double.parseDouble(b.group(1)) * 1e6;
      buckets.add(new double[] {le, Double.parseDouble(b.group(2))});
    }
    buckets.sort(java.util.Comparator.comparingDouble(x -> x[0]));
    double[] bounds = new double[buckets.size()];
    long[] cumulative = new long[buckets.size()];
    for (int i = 0; i < bounds.length; i++) {
      bounds[i] = buckets.get(i)[0];
      cumulative[i] = (long) buckets.get(i)[1];
    }
    return new HandoffCounters((long) Double.parseDouble(count.group(1)), bounds, cumulative);
  }

  /** The handoffs between {@code earlier} and this scrape. */
  HandoffCounters minus(HandoffCounters earlier) {
    long[] diff = new long[cumulative.length];
    for (int i = 0; i < diff.length; i++) diff[i] = cumulative[i] - earlier.cumulative[i];
    return new HandoffCounters(handoffs - earlier.handoffs, upperBoundsUs, diff);
  }

  /**
   * The {@code q} quantile (0..1) in microseconds, interpolated linearly inside its bucket as
   * Prometheus' histogram_quantile does (so within one bucket's width of the truth); the highest
   * finite bound if it falls in the last bucket; NaN without handoffs.
   */
  double quantileUs(double q) {
    if (handoffs <= 0 || cumulative.length == 0) return Double.NaN;
    double rank = q * cumulative[cumulative.length - 1];
    for (int i = 0; i < cumulative.length; i++) {
      if (cumulative[i] >= rank) {
        if (Double.isInfinite(upperBoundsUs[i])) return i > 0 ? upperBoundsUs[i - 1] : Double.NaN;
        double lower = i == 0 ? 0 : upperBoundsUs[i - 1];
        long below = i == 0 ? 0 : cumulative[i - 1];
        long in = cumulative[i] - below;
        return in == 0
            ? upperBoundsUs[i]
            : lower + (upperBoundsUs[i] - lower) * (rank - below) / in;
      }
    }
    return upperBoundsUs[upperBoundsUs.length - 1];
  }
}
