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
 * (separate dispatcher and server JVMs, started from this test's classpath), one size, one second
 * per run, one repeat. Checks the report, not the numbers.
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

    int code =
        cmd.execute(
            "bench",
            "--systems",
            "direct-app,baton-embedded",
            "--sizes",
            "1k",
            "--duration",
            "1",
            "--warmup",
            "1",
            "--repeats",
            "1",
            "--latency-probe",
            "1",
            "--modes",
            "close,keep-alive,paced",
            // 16 workers at 4/s: a tick every 250 ms, and the run's second ends on one.
            "--paced-rate",
            "64",
            "--output",
            results.toString());

    String text = out + "\n" + err;
    assertThat(code).as(text).isEqualTo(ExitCode.OK);
    List<Path> files;
    try (Stream<Path> list = Files.list(results)) {
      files = list.toList();
    }
    Path json =
        files.stream().filter(p -> p.toString().endsWith(".json")).findFirst().orElseThrow();
    assertThat(files)
        .anyMatch(p -> p.toString().endsWith(".md"))
        .anyMatch(p -> p.toString().endsWith(".png"));
    JsonNode root = new ObjectMapper().readTree(json.toFile());
    List<String> seen = new ArrayList<>();
    for (JsonNode r : root.get("results")) {
      String what = r.get("system").asText() + " " + r.get("mode").asText();
      seen.add(what);
      assertThat(r.get("requests").asLong()).as(what).isPositive();
      assertThat(r.get("errors").asLong()).as(what).isZero();
    }
    assertThat(seen)
        .contains(
            "direct-app close",
            "direct-app keep-alive",
            "direct-app close-c1",
            "direct-app paced",
            "baton-embedded close",
            "baton-embedded keep-alive",
            "baton-embedded close-c1",
            "baton-embedded paced");
    assertThat(root.get("failures")).isEmpty();
    assertThat(root.get("failedRuns")).isEmpty();
    assertThat(root.get("valid").asBoolean())
        .as("sanity check: %s", root.get("sanityProblems"))
        .isTrue();
    assertThat(root.get("idleChecks")).hasSize(2);
    // The dispatcher's own handoff counter agrees with wrk: every completed request was a handoff,
    // plus at most one per connection still open when wrk stopped.
    List<String> handoffRuns = new ArrayList<>();
    for (JsonNode h : root.get("handoffs")) {
      String what = h.get("system").asText() + " " + h.get("mode").asText();
      handoffRuns.add(what);
      long requests = 0;
      for (JsonNode m : root.get("measurements")) {
        if (m.get("system").asText().equals(h.get("system").asText())
            && m.get("mode").asText().equals(h.get("mode").asText())) {
          requests = m.get("requests").asLong();
        }
      }
      if (h.get("mode").asText().equals("keep-alive")) {
        // wrk's 16 connections, each handed off once when it opened (or while warming up).
        assertThat(h.get("handoffs").asLong()).as(what).isBetween(0L, 16L);
        continue;
      }
      assertThat(h.get("handoffs").asLong()).as(what).isBetween(requests, requests + 16);
      assertThat(h.get("dispatcherUsPerHandoff").asDouble()).as(what).isPositive();
      assertThat(h.get("handoffP50Us").asDouble()).as(what).isPositive();
    }
    assertThat(handoffRuns)
        .containsExactly(
            "baton-embedded close",
            "baton-embedded keep-alive",
            "baton-embedded paced",
            "baton-embedded close-c1");
    assertThat(out.toString())
        .contains("Handoffs, baton-embedded: dispatcher CPU")
        .contains("Handoff latency, baton-embedded, one connection at a time");
    assertThat(out.toString().strip().lines().reduce((a, b) -> b).orElseThrow())
        .startsWith("baton:proxy balancer-node CPU per request at");
    assertThat(Lab.leftovers()).isEmpty();
  }
}
