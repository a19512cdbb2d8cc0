package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The harness's reading of the dispatcher's handoff histogram: parsed from the text the Prometheus
 * library itself writes, differenced between two scrapes, and turned into quantiles the way
 * histogram_quantile does; and the summary lines built from it.
 */
class HandoffCountersTest {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  // The dispatcher's buckets (DispatcherStats.handoffSeconds).
  private final Histogram histogram =
      Histogram.builder()
          .name("baton_dispatcher_handoff_seconds")
          .help("test")
          .classicOnly()
          .classicUpperBounds(
              25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 2e-3, 5e-3,
              10e-3, 50e-3, 0.1, 1, 10)
          .register(registry);

  @Test
  void twoScrapesGiveTheIntervalsHandoffsAndTheirQuantiles() throws Exception {
    for (int i = 0; i < 500; i++) histogram.observe(5e-3); // a loaded run before the interval
    HandoffCounters before = HandoffCounters.parse(page());
    // The interval: 90 handoffs between 50 and 75 µs, 10 between 150 and 200 µs.
    for (int i = 0; i < 90; i++) histogram.observe(60e-6);
    for (int i = 0; i < 10; i++) histogram.observe(180e-6);
    HandoffCounters during = HandoffCounters.parse(page()).minus(before);

    assertThat(during.handoffs()).isEqualTo(100);
    // Rank 50 of 100 falls in (50, 75] µs, which holds ranks 1..90: 50 + 25 * 50/90.
    assertThat(during.quantileUs(0.50)).isCloseTo(50 + 25.0 * 50 / 90, within(0.01));
    // Rank 99 falls in (150, 200] µs, which holds ranks 91..100: 150 + 50 * 9/10.
    assertThat(during.quantileUs(0.99)).isCloseTo(195, within(0.01));
  }

  @Test
  void aQuantileBeyondTheLastFiniteBucketIsThatBoundAndNoHandoffsIsNaN() throws Exception {
    HandoffCounters empty = HandoffCounters.parse(page());
    assertThat(empty.quantileUs(0.5)).isNaN();
    histogram.observe(30); // over 10 s
    assertThat(HandoffCounters.parse(page()).minus(empty).quantileUs(0.99)).isEqualTo(10e6);
  }

  @Test
  void aPageWithoutTheHistogramIsAClearError() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> HandoffCounters.parse("baton_x_total 1\n"))
        .hasMessage("no baton_dispatcher_handoff_seconds in the dispatcher's metrics");
  }

  @Test
  void theSummaryInvertsCpuPerHandoffIntoHandoffsPerSecondAndReportsLightLoadLatency() {
    List<HandoffMeasurement> runs =
        List.of(
            new HandoffMeasurement("baton-relay", "close", "1k", 1, 10_000, 80, 900, 2000),
            new HandoffMeasurement("baton-relay", "close", "1k", 2, 10_000, 100, 900, 2000),
            new HandoffMeasurement("baton-relay", "close", "1k", 3, 10_000, 120, 900, 2000),
            new HandoffMeasurement("baton-relay", "close", "1m", 1, 500, 300, 900, 2000),
            new HandoffMeasurement("baton-relay", "close-c1", "1k", 1, 1500, 150, 90, 700));
    List<String> lines = HandoffSummary.lines(runs);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0))
        .startsWith(
            "Handoffs, baton-relay: dispatcher CPU 100.0 µs per handoff (one request per"
                + " connection, 1 KiB, median of 3 runs) = one dispatcher core for 10,000 handoffs/s")
        .endsWith("missed)");
    assertThat(lines.get(1))
        .contains("1,500 handoffs")
        .contains("p50 90 µs, p99 700 µs")
        .endsWith("met)");
  }

  private String page() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
    return out.toString(StandardCharsets.UTF_8);
  }
}
