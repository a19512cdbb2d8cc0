package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cli.Baton;
import io.baton.cli.ExitCode;
import io.baton.lab.Lab;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code baton bench} in its smallest form: the sample app direct and through a Baton handoff
 * (separate dispatcher and server JVMs, started from this test's classpath), one size, one
 * second per run, one repeat. Checks the report, not the numbers.
 */
@Tag("lab")
class BenchLabTest {
  @TempDir Path results;

  @Test
  void aTinyRunMeasuresEverySystemWithoutErrorsAndLeavesNothingBehind() throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cmd = Baton.newCommandLine();
    cmd.setOut(new PrintWriter(out)).setErr(new PrintWriter(err));

    int code = cmd.execute("bench", "--systems", "direct-app,baton-embedded", "--sizes", "1k", "--duration", "1",
        "--warmup", "1", "--repeats", "1", "--latency-probe", "1", "--output", results.toString());

    String text = out + "\n" + err;
    assertThat(code).as(text).isEqualTo(ExitCode.OK);
    List<Path> files;
    try (Stream<Path> list = Files.list(results)) {
      files = list.toList();
    }
    Path json = files.stream().filter(p -> p.toString().endsWith(".json")).findFirst().orElseThrow();
    assertThat(files).anyMatch(p -> p.toString().endsWith(".md")).anyMatch(p -> p.toString().endsWith(".png"));
    JsonNode root = new ObjectMapper().readTree(json.toFile());
    List<String> seen = new ArrayList<>();
    for (JsonNode r : root.get("results")) {
      String what = r.get("system").asText() + " " + r.get("mode").asText();
      seen.add(what);
      assertThat(r.get("requests").asLong()).as(what).isPositive();
      assertThat(r.get("errors").asLong()).as(what).isZero();
    }
    assertThat(seen).contains("direct-app close", "direct-app keep-alive", "direct-app close-c1",
        "baton-embedded close", "baton-embedded keep-alive", "baton-embedded close-c1");
    assertThat(root.get("failures")).isEmpty();
    assertThat(root.get("failedRuns")).isEmpty();
    assertThat(root.get("valid").asBoolean()).as("sanity check: %s", root.get("sanityProblems")).isTrue();
    assertThat(root.get("idleChecks")).hasSize(2);
    assertThat(out.toString().strip().lines().reduce((a, b) -> b).orElseThrow())
        .startsWith("baton:proxy balancer-node CPU per request at");
    assertThat(Lab.leftovers()).isEmpty();
  }
}
