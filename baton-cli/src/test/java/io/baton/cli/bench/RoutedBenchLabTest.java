package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code ./baton bench --routed} in a tiny configuration (one 50 MiB upload per forwarding mode,
 * 300 UDP flows): both farms run, every upload and every flow is answered, and the report has its
 * figures. Speeds are printed, never asserted.
 */
@Tag("lab")
class RoutedBenchLabTest {
  @Test
  void theRoutedBenchMeasuresBothForwardingModesAndUdpFlows() throws Exception {
    StringWriter text = new StringWriter();
    RoutedBench bench = new RoutedBench(new PrintWriter(text), 1, 300);
    RoutedBench.Result r = bench.run();
    System.out.print(text);
    assertThat(r.direct().packets()).as("packets d1 forwarded directly").isPositive();
    assertThat(r.encap().packets()).as("packets d1 forwarded encapsulated").isPositive();
    assertThat(r.udp().answered()).as("UDP flows answered").isEqualTo(300);
    assertThat(bench.report(r, "# tiny"))
        .contains("| direct | 50 |")
        .contains("| encap | 50 |")
        .contains("encap : direct per forwarded packet")
        .contains("new flows per second per dispatcher core");
  }
}
