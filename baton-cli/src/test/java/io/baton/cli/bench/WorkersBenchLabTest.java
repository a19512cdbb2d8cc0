package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code ./baton bench --workers} in a tiny configuration (1 s of warm-up, 2 s measured per path):
 * the harness runs all three delivery paths end to end without an error and reports them. Speeds
 * are printed, never asserted.
 */
@Tag("lab")
class WorkersBenchLabTest {
  @Test
  void theWorkersBenchRunsEveryPathAndReports() throws Exception {
    StringWriter text = new StringWriter();
    WorkersBench bench =
        new WorkersBench(
            new PrintWriter(text),
            Path.of("..", "baton-worker", "src", "main", "c", "baton_file_worker.c")
                .toAbsolutePath()
                .normalize(),
            Duration.ofSeconds(1),
            Duration.ofSeconds(2));
    List<WorkersBench.Row> rows = bench.run();
    System.out.print(text);
    assertThat(rows).extracting(WorkersBench.Row::path).containsExactly("relay", "pass", "direct");
    for (WorkersBench.Row r : rows) {
      assertThat(r.requests()).as(r.path()).isPositive();
      assertThat(r.errors()).as(r.path()).isZero();
    }
    String report = bench.report(rows, "# tiny");
    assertThat(report)
        .contains("| path | req/s | server agents µs/req | workers µs/req | requests | errors |")
        .contains("| relay |")
        .contains("| pass |")
        .contains("| direct |");
  }
}
