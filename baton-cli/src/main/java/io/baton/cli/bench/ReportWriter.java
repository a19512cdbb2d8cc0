package io.baton.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Writes a run's report into the results directory, every file named {@code
 * <date>-<time>-<commit>}: a Markdown page (machine, plan, pinning check, table, summary, chart),
 * the JSON with every measurement, and the PNG chart. Also renders the table for the console.
 *
 * <p>Confined to the runner's thread.
 */
final class ReportWriter {
  private static final DateTimeFormatter NAME_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd-HHmm");

  /** Where a report went. {@code chart} is null when it could not be drawn. */
  record ReportFiles(Path markdown, Path json, Path chart) {}

  private final Path directory;
  private final Path repository;

  /**
   * @param directory where the files go (created if missing)
   * @param repository the git work tree whose commit names the files, or null
   */
  ReportWriter(Path directory, Path repository) {
    this.directory = directory;
    this.repository = repository;
  }

  ReportFiles write(
      BenchPlan plan,
      BenchResults results,
      List<ConfigResult> table,
      BenchSummary summary,
      BaselineCheck check,
      Map<String, String> machine,
      List<String> notes)
      throws IOException {
    Files.createDirectories(directory);
    String commit = commit();
    String base = LocalDateTime.now().format(NAME_TIME) + "-" + commit;
    Path json = directory.resolve(base + ".json");
    Path markdown = directory.resolve(base + ".md");
    Path chart = directory.resolve(base + ".png");
    try {
      CpuChart.write(
          table,
          plan.systems(),
          plan.modes(),
          plan.sizes(),
          machine.getOrDefault("cpu", "")
              + "; wrk "
              + plan.concurrency()
              + " connections, "
              + plan.duration().toSeconds()
              + " s runs, median of "
              + plan.repeats()
              + " (commit "
              + commit
              + ")",
          chart);
    } catch (IOException | RuntimeException | Error e) {
      notes = new ArrayList<>(notes);
      notes.add("chart not drawn: " + e);
      chart = null;
    }
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("date", LocalDateTime.now().toString());
    root.put("commit", commit);
    root.put("dirty", dirty());
    root.put("machine", machine);
    root.put("plan", planMap(plan));
    root.put("labIdleCpu0MsPerSecond", results.labIdleCpu0MsPerSecond());
    root.put("idleChecks", results.idleChecks());
    root.put("failures", results.failures());
    root.put("failedRuns", results.failedRuns());
    root.put("excludedRuns", results.excluded());
    root.put("valid", check.valid());
    root.put("sanityProblems", check.problems());
    root.put("notes", notes);
    root.put("results", table);
    root.put("summary", summary);
    root.put("verdict", summary.verdict());
    root.put("measurements", results.measurements());
    root.put("handoffs", results.handoffs());
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), root);
    Files.writeString(
        markdown,
        markdown(plan, results, table, summary, check, machine, notes, commit, chart),
        StandardCharsets.UTF_8);
    return new ReportFiles(markdown, json, chart);
  }

  /** The results table in Markdown: one row per system, mode and size. */
  static String table(List<ConfigResult> table) {
    StringBuilder b = new StringBuilder();
    b.append(
        "| system | mode | size | runs | req/s | p50 µs | p99 µs | errors | balancer-node CPU µs/req"
            + " | balancer processes µs/req (lower bound) | machine CPU over direct µs/req | lb front bytes/req"
            + " | CPU 0 noise ms/s | JIT ms/s |\n");
    b.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (ConfigResult r : table) {
      b.append("| ")
          .append(r.system())
          .append(" | ")
          .append(r.mode())
          .append(" | ")
          .append(ResponseSize.parse(r.size()).label())
          .append(" | ")
          .append(r.runCount())
          .append(" | ")
          .append(r.requestsPerSecond().format("%.0f"))
          .append(" | ")
          .append(r.latencyP50Us().format("%.0f"))
          .append(" | ")
          .append(r.latencyP99Us().format("%.0f"))
          .append(" | ")
          .append(r.errors())
          .append(" | ")
          .append(r.balancerCpuUsPerRequest().format("%.1f"))
          .append(" | ")
          .append(
              !SystemKind.parse(r.system()).hasBalancer()
                  ? "–"
                  : r.balancerProcessUsPerRequest().format("%.1f"))
          .append(" | ")
          .append(
              r.machineCpuOverDirectUsPerRequest() == null
                  ? "–"
                  : String.format("%+.1f", r.machineCpuOverDirectUsPerRequest()))
          .append(" | ")
          .append(r.frontBytesPerRequest().format("%.0f"))
          .append(" | ")
          .append(r.cpu0NoiseMsPerSecond().format("%.0f"))
          .append(" | ")
          .append(
              BenchPlan.isJvm(SystemKind.parse(r.system()))
                  ? r.jitMsPerSecond().format("%.0f")
                  : "–")
          .append(" |\n");
    }
    return b.toString();
  }

  private String markdown(
      BenchPlan plan,
      BenchResults results,
      List<ConfigResult> table,
      BenchSummary summary,
      BaselineCheck check,
      Map<String, String> machine,
      List<String> notes,
      String commit,
      Path chart) {
    StringBuilder b = new StringBuilder();
    b.append("# baton bench, ")
        .append(LocalDateTime.now().withNano(0))
        .append(", commit ")
        .append(commit)
        .append(dirty() ? " (with uncommitted changes)" : "")
        .append("\n\n");
    b.append("Machine: ");
    machine.forEach((k, v) -> b.append(k).append(" ").append(v).append("; "));
    b.append("\n\n");
    b.append("Plan: ").append(describe(plan)).append("\n\n");
    b.append("Systems:\n\n");
    for (SystemKind s : plan.systems())
      b.append("* **").append(s.label()).append("**: ").append(s.description()).append('\n');
    b.append(
            "\nPinning check (CPU 0 busy time per second while the balancer idles; near 0 means CPU 0 is the"
                + " balancer's alone): lab idle ")
        .append(String.format("%.1f ms/s", results.labIdleCpu0MsPerSecond()));
    for (IdleCheck c : results.idleChecks()) {
      b.append(
          String.format("; %s #%d %.1f ms/s", c.system(), c.repeat(), c.cpu0BusyMsPerSecond()));
      if (c.jitMsPerSecond() > 0 || BenchPlan.isJvm(SystemKind.parse(c.system()))) {
        b.append(
            String.format(
                " (warm-up %.0f s, JIT %.0f ms/s at its end)",
                c.warmupSeconds(), c.jitMsPerSecond()));
      }
    }
    b.append(".\n\n");
    if (!results.failures().isEmpty()) {
      b.append("Failures:\n\n");
      results.failures().forEach(f -> b.append("* ").append(f).append('\n'));
      b.append('\n');
    }
    if (!results.excluded().isEmpty()) {
      b.append("Runs left out of the medians (wrk saw socket errors or non-2xx answers):\n\n");
      for (Measurement m : results.excluded()) {
        b.append(
            String.format(
                "* %s %s %s, repeat %d: %.0f req/s, %d socket errors, %d non-2xx%n",
                m.system(),
                m.mode(),
                ResponseSize.parse(m.size()).label(),
                m.repeat(),
                m.requestsPerSecond(),
                m.socketErrors(),
                m.non2xx()));
      }
      b.append('\n');
    }
    b.append("```\n");
    check.lines().forEach(l -> b.append(l).append('\n'));
    b.append("```\n\n");
    notes.forEach(n -> b.append("Note: ").append(n).append("\n\n"));
    b.append(
        "Median of the clean repeats, (min–max) when they differ; \"runs\" says how many repeats each"
            + " figure rests on of those planned. CPU figures are CPU time per request;"
            + " see bench/README.md for what each column means.\n\n");
    b.append(table(table)).append('\n');
    b.append("## Summary\n\n```\n");
    summary.lines().forEach(l -> b.append(l).append('\n'));
    b.append("```\n");
    if (chart != null)
      b.append("\n![balancer-node CPU per request](").append(chart.getFileName()).append(")\n");
    return b.toString();
  }

  static String describe(BenchPlan plan) {
    return plan.systems().stream().map(SystemKind::label).toList()
        + " × sizes "
        + plan.sizes().stream().map(ResponseSize::label).toList()
        + " × modes "
        + plan.modes().stream().map(ConnectionMode::label).toList()
        + (plan.serialDuration().isZero()
            ? ""
            : " + latency probe close-c1 (" + plan.serialDuration().toSeconds() + " s)")
        + "; wrk -t1 -c"
        + plan.concurrency()
        + ", "
        + plan.duration().toSeconds()
        + " s per run, warm-up "
        + plan.warmup().toSeconds()
        + " s per system start (four times that for JVM systems, then until their JIT"
        + " compilers are quiet, at most twice as long again), "
        + plan.repeats()
        + " repeat(s), interleaved"
        + (plan.pacedRate() > 0
            ? "; paced: hey, " + plan.pacedRate() + " new connections/s, one request each"
            : "");
  }

  private static Map<String, Object> planMap(BenchPlan plan) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("systems", plan.systems().stream().map(SystemKind::label).toList());
    m.put("sizes", plan.sizes().stream().map(ResponseSize::token).toList());
    m.put("modes", plan.modes().stream().map(ConnectionMode::label).toList());
    m.put("durationSeconds", plan.duration().toSeconds());
    m.put("warmupSeconds", plan.warmup().toSeconds());
    m.put("serialProbeSeconds", plan.serialDuration().toSeconds());
    m.put("repeats", plan.repeats());
    m.put("concurrency", plan.concurrency());
    m.put("pacedRate", plan.pacedRate());
    return m;
  }

  /** {@code git rev-parse --short HEAD} of the repository, or "nocommit". */
  String commit() {
    String out = git("rev-parse", "--short", "HEAD");
    return out == null || out.isBlank() ? "nocommit" : out.strip();
  }

  private boolean dirty() {
    String out = git("status", "--porcelain", "--untracked-files=no");
    return out != null && !out.isBlank();
  }

  private String git(String... args) {
    if (repository == null) return null;
    List<String> cmd = new ArrayList<>(List.of("git", "-C", repository.toString()));
    cmd.addAll(List.of(args));
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
