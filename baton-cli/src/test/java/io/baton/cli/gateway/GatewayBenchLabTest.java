package io.baton.cli.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.cli.bench.GatewayBench;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code ./baton bench --gateway} in a tiny configuration (8 MiB, 1 % loss, transfers cut at 8 s):
 * the harness runs end to end and every transfer is whole or a clean prefix of the file (the bench
 * checks the bytes). Speeds are printed, never asserted.
 */
@Tag("lab")
class GatewayBenchLabTest {
  @Test
  void theGatewayBenchRunsAndReports() throws Exception {
    StringWriter text = new StringWriter();
    GatewayBench bench =
        new GatewayBench(
            new PrintWriter(text),
            8L << 20,
            Duration.ofSeconds(8),
            List.of(0.01),
            List.of("--connections", "4", "--congestion-control", "bbr"));
    List<GatewayBench.Row> rows = bench.run();
    System.out.print(text);
    assertThat(rows).hasSize(1);
    GatewayBench.Row row = rows.get(0);
    assertThat(row.gatewayFirst().whole()).isTrue();
    assertThat(row.gatewayWarm().whole()).isTrue();
    assertThat(row.gatewayWarm().bytes()).isEqualTo(8L << 20);
    String report = bench.report(rows, "# tiny");
    System.out.print(report);
    assertThat(report.strip().lines().reduce((a, b) -> b).orElseThrow())
        .startsWith("Verdict: gateway pair, warm trunk, at 1 % loss");
  }
}
