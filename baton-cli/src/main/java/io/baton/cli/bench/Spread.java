package io.baton.cli.bench;

import java.util.Arrays;
import java.util.Collection;

/**
 * Median, minimum and maximum of a few repeated measurements; NaN values (a figure wrk did not
 * report) are left out. Immutable.
 */
record Spread(double median, double min, double max) {
  static final Spread NONE = new Spread(Double.NaN, Double.NaN, Double.NaN);

  static Spread of(Collection<Double> values) {
    double[] v =
        values.stream().filter(d -> !d.isNaN()).mapToDouble(Double::doubleValue).sorted().toArray();
    if (v.length == 0) return NONE;
    int n = v.length;
    double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return new Spread(median, v[0], v[n - 1]);
  }

  static Spread of(double... values) {
    return of(Arrays.stream(values).boxed().toList());
  }

  /** "412 (398–430)", or just "412" when every repeat agreed or there was one. */
  String format(String pattern) {
    if (Double.isNaN(median)) return "–";
    String m = String.format(pattern, median);
    if (min == max) return m;
    return m + " (" + String.format(pattern, min) + "–" + String.format(pattern, max) + ")";
  }
}
