package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link LocalityBench} in a short configuration (what {@code ./baton bench --locality} runs for
 * longer): LARD's cache hit rate must beat least connections' by far when the working set is larger
 * than one server's cache but fits in both; the throughput is printed, not asserted.
 */
@Tag("lab")
class LocalityLabTest {
  @Test
  void lardKeepsEachObjectInOneCacheWhereLeastConnectionsSpreadsItEverywhere() throws Exception {
    StringWriter text = new StringWriter();
    var result =
        new LocalityBench(
                new PrintWriter(text, true), 600, 360, Duration.ofSeconds(4), Duration.ofSeconds(6))
            .run();
    System.out.print(result.summary());
    double lc = result.of("least-connections").hitRate();
    double lard = result.of("locality").hitRate();
    assertThat(lard)
        .as("LARD's hit rate against least connections' (%s)", lc)
        .isGreaterThan(lc + 0.2);
    assertThat(lc)
        .as("least connections spreads every object: about one cache's share")
        .isBetween(0.45, 0.75);
  }
}
