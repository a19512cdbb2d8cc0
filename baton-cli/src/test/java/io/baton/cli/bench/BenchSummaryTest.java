package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The pieces of the benchmark report that need no lab: wrk's output, sizes, spreads, the summary.
 */
class BenchSummaryTest {
  private static final String WRK =
      """
      Running 2s test @ http://198.18.0.100:80/1k.bin
        1 threads and 16 connections
        Thread Stats   Avg      Stdev     Max   +/- Stdev
          Latency     2.95ms    1.20ms  20.10ms   80.00%
          Req/Sec     4.00k   200.00     4.40k    70.00%
        Latency Distribution
           50%    2.80ms
           75%    3.10ms
           90%    3.90ms
           99%  412.00us
        8000 requests in 2.00s, 9.50MB read
        Socket errors: connect 0, read 2, write 0, timeout 1
        Non-2xx or 3xx responses: 4
      Requests/sec:   4000.00
      Transfer/sec:      4.75MB
      """;

  @Test
  void wrkReportIsReadWithUnitsAndErrors() throws Exception {
    Wrk.Result r = Wrk.parse(WRK, "");
    assertThat(r.requests()).isEqualTo(8000);
    assertThat(r.seconds()).isEqualTo(2.0);
    assertThat(r.latencyP50Us()).isEqualTo(2800.0);
    assertThat(r.latencyP99Us()).isEqualTo(412.0);
    assertThat(r.errors()).isEqualTo(7);
  }

  @Test
  void wrkWithoutAReportIsAnError() {
    assertThatThrownBy(
            () -> Wrk.parse("", "unable to connect to 198.18.0.100:80 Connection refused"))
        .hasMessageContaining("Connection refused");
  }

  private static final String HEY =
      """

      Summary:
        Total:	5.0213 secs
        Slowest:	0.0388 secs
        Fastest:	0.0037 secs
        Average:	0.0199 secs
        Requests/sec:	199.1514

      Latency distribution:
        10% in 0.0047 secs
        50% in 0.0211 secs
        99% in 0.0388 secs

      Status code distribution:
        [200]	990 responses
        [302]	2 responses
        [503]	5 responses

      Error distribution:
        [2]	Get "http://198.18.0.100:80/1k.bin": dial tcp 198.18.0.100:80: connect: connection refused
        [1]	Get "http://198.18.0.100:80/1k.bin": context deadline exceeded
      """;

  @Test
  void heySummaryIsReadAsAnswersErrorsAndPercentiles() throws Exception {
    Wrk.Result r = Hey.parse(HEY, "");
    assertThat(r.requests()).isEqualTo(997);
    assertThat(r.seconds()).isEqualTo(5.0213);
    assertThat(r.socketErrors()).isEqualTo(3);
    assertThat(r.non2xx()).isEqualTo(5);
    assertThat(r.latencyP50Us()).isCloseTo(21_100, org.assertj.core.data.Offset.offset(0.01));
    assertThat(r.latencyP99Us()).isCloseTo(38_800, org.assertj.core.data.Offset.offset(0.01));
    assertThatThrownBy(() -> Hey.parse("", "hey: invalid URL")).hasMessageContaining("invalid URL");
  }

  @Test
  void aPacedRunLastsAsLongAsHeysTicks() {
    // 16 workers at 12.5/s: a tick every 80 ms, 63 of them up to the first after 5 s.
    assertThat(Hey.scheduleSeconds(200, 16, 5))
        .isCloseTo(5.04, org.assertj.core.data.Offset.offset(1e-9));
    // 16 workers at 3.125/s: ticks at 320, 640, 960 and 1,280 ms.
    assertThat(Hey.scheduleSeconds(50, 16, 1))
        .isCloseTo(1.28, org.assertj.core.data.Offset.offset(1e-9));
    // A period that divides the run: the last tick is the run's end.
    assertThat(Hey.scheduleSeconds(64, 16, 1))
        .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void pacedRunsAreComparedApartFromTheVerdict() {
    List<ConfigResult> table =
        List.of(
            result("baton-relay", "close", "1m", 900),
            result("haproxy", "close", "1m", 1000),
            result("baton-relay", "paced", "1m", 300),
            result("haproxy", "paced", "1m", 1200),
            result("nginx-proxy", "paced", "1m", 1500));
    BenchSummary s = BenchSummary.of(table);
    assertThat(s.paced()).hasSize(1);
    assertThat(s.paced().getFirst().proxy()).isEqualTo("haproxy");
    assertThat(s.paced().getFirst().ratio()).isEqualTo(0.25);
    assertThat(s.verdict()).contains("= 0.90");
    List<String> lines = s.lines();
    assertThat(lines.getLast()).isEqualTo(s.verdict());
    assertThat(String.join("\n", lines))
        .contains("at one load for every system")
        .contains("ratio 0.25");
  }

  @Test
  void sizesParseAndOrder() {
    assertThat(ResponseSize.parse("16k").bytes()).isEqualTo(16 << 10);
    assertThat(ResponseSize.parse("1M").label()).isEqualTo("1 MiB");
    assertThat(ResponseSize.parse("1m").path()).isEqualTo("/1m.bin");
    assertThatThrownBy(() -> ResponseSize.parse("1g")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void spreadIsMedianAndRangeWithoutNaN() {
    assertThat(Spread.of(3, 1, 2, Double.NaN)).isEqualTo(new Spread(2, 1, 3));
    assertThat(Spread.of(4, 1)).isEqualTo(new Spread(2.5, 1, 4));
    assertThat(Spread.of(5).format("%.0f")).isEqualTo("5");
    assertThat(Spread.of(1, 2, 3).format("%.0f")).isEqualTo("2 (1–3)");
  }

  @Test
  void summaryFindsTheSizeFromWhichBatonIsCheaperAndEndsWithTheVerdict() {
    List<ConfigResult> results =
        List.of(
            result("haproxy", "close", "1k", 100),
            result("haproxy", "close", "16k", 200),
            result("haproxy", "close", "1m", 4000),
            result("baton-relay", "close", "1k", 150),
            result("baton-relay", "close", "16k", 150),
            result("baton-relay", "close", "1m", 280));

    BenchSummary s = BenchSummary.of(results);

    assertThat(s.baton()).isEqualTo("baton-relay");
    assertThat(s.cheaperFrom()).isEqualTo("16 KiB");
    assertThat(s.verdict())
        .isEqualTo(
            "baton:haproxy balancer-node CPU per request at 1 MiB = 0.07 (target <= 0.10;"
                + " haproxy is the cheapest proxy at 1 MiB in this run)");
    assertThat(s.lines().getLast()).isEqualTo(s.verdict());
  }

  @Test
  void eachSizeIsComparedWithTheCheapestProxyAndTheVerdictNamesIt() {
    List<ConfigResult> results =
        List.of(
            result("haproxy", "close", "1k", 60), result("nginx-proxy", "close", "1k", 65),
            result("haproxy", "close", "1m", 4000), result("nginx-proxy", "close", "1m", 2800),
            result("baton-relay", "close", "1k", 150), result("baton-relay", "close", "1m", 560));

    BenchSummary s = BenchSummary.of(results);

    assertThat(s.cpu())
        .extracting(BenchSummary.SizeComparison::proxy)
        .containsExactly("haproxy", "nginx-proxy");
    assertThat(s.cpu().getLast().ratio()).isEqualTo(0.2);
    assertThat(s.verdict())
        .isEqualTo(
            "baton:nginx-proxy balancer-node CPU per request at 1 MiB = 0.20 (target <= 0.10;"
                + " nginx-proxy is the cheapest proxy at 1 MiB in this run)");
    assertThat(s.cheaperFrom()).isEqualTo("1 MiB");
  }

  @Test
  void aProxyWithoutCleanRunsIsNotTheCheapest() {
    List<ConfigResult> results =
        List.of(
            result("haproxy", "close", "1m", 100, 0),
            result("nginx-proxy", "close", "1m", 2800),
            result("baton-relay", "close", "1m", 560));
    assertThat(BenchSummary.of(results).cpu().getFirst().proxy()).isEqualTo("nginx-proxy");
  }

  @Test
  void verdictSaysWhatIsMissing() {
    BenchSummary s = BenchSummary.of(List.of(result("baton-embedded", "close", "1k", 150)));
    assertThat(s.verdict()).startsWith("baton:proxy balancer-node CPU per request at 1 MiB = n/a");
  }

  static ConfigResult result(String system, String mode, String size, double cpuUs) {
    return result(system, mode, size, cpuUs, 1);
  }

  static ConfigResult result(String system, String mode, String size, double cpuUs, int cleanRuns) {
    Spread one = Spread.of(1);
    return new ConfigResult(
        system,
        mode,
        size,
        ResponseSize.parse(size).bytes(),
        cleanRuns,
        1,
        1 - cleanRuns,
        0,
        100,
        0,
        one,
        one,
        one,
        Spread.of(cpuUs),
        Spread.of(cpuUs),
        Spread.of(0),
        one,
        null,
        one,
        Spread.of(0));
  }
}
