package io.baton.cli.bench;

import io.baton.lab.InterfaceStats;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link BenchPlan}: builds the lab, then for every repeat (outermost, so the repeats
 * interleave) starts each system in turn, warms it up, checks that CPU 0 is idle while the balancer
 * idles, measures every mode and size with wrk, and stops the system again, so only one balancer
 * ever runs. Ends with the report files, the table, the summary and, as the very last line, the
 * verdict. The lab is torn down whatever happens.
 *
 * <p>Confined to the calling thread.
 */
final class BenchRunner {
  /** CPU 0 counts as quiet below this busy time per second (5 %). */
  static final double QUIET_MS_PER_SECOND = 50;

  static final Duration QUIET_WINDOW = Duration.ofMillis(500);
  static final Duration QUIET_WAIT = Duration.ofSeconds(2);

  private final BenchPlan plan;
  private final PrintWriter out;
  private final JavaLauncher launcher;
  private final ReportWriter writer;
  private final boolean awakeCpu0;

  /** What a run produced. */
  record Outcome(
      ReportWriter.ReportFiles files,
      BenchSummary summary,
      BaselineCheck check,
      List<String> failures) {}

  BenchRunner(BenchPlan plan, PrintWriter out, JavaLauncher launcher, ReportWriter writer) {
    this(plan, out, launcher, writer, false);
  }

  /**
   * @param awakeCpu0 keep CPU 0 from idling during measured runs ({@link Cpu0Spinner})
   */
  BenchRunner(
      BenchPlan plan,
      PrintWriter out,
      JavaLauncher launcher,
      ReportWriter writer,
      boolean awakeCpu0) {
    this.plan = plan;
    this.out = out;
    this.launcher = launcher;
    this.writer = writer;
    this.awakeCpu0 = awakeCpu0;
  }

  Outcome run() throws IOException, InterruptedException {
    say("baton bench: " + ReportWriter.describe(plan));
    say(
        String.format(
            "%d measured runs; estimated time %s. Balancer on CPU 0; client, servers and harness on CPU 1.",
            plan.runsPerRepeat() * plan.repeats(), minutes(plan.estimate())));
    say("Baton nodes run as: " + launcher);
    BenchResults results = new BenchResults();
    List<String> notes = new ArrayList<>();
    if (awakeCpu0) {
      notes.add(
          "CPU 0 was kept awake during every measured run by a SCHED_IDLE spinner; balancer-node CPU and"
              + " machine CPU exclude the spinner's own time, so no system paid the VM's wake-from-idle cost"
              + " (run without --awake-cpu0 for the figures that include it)");
    }
    long started = System.nanoTime();
    CpuSteering steering = new CpuSteering();
    steering.pinThisJvm();
    try (BenchLab lab = BenchLab.create(plan.sizes())) {
      say(
          "lab up: "
              + lab.client.nsName()
              + ", "
              + lab.lb.nsName()
              + ", "
              + String.join(", ", lab.servers.values().stream().map(h -> h.nsName()).toList())
              + "; VIP "
              + BenchLab.VIP);
      if (plan.systems().stream().anyMatch(SystemKind::usesNginxServers)) lab.startNginxServers();
      double idle = idleCpu0MsPerSecond(null)[0];
      results.labIdle(idle);
      say(String.format("pinning check: CPU 0 busy %.1f ms/s with the lab idle", idle));
      if (idle > 50)
        notes.add(
            String.format(
                "CPU 0 was %.0f ms/s busy with the lab idle: another workload shares"
                    + " this machine, and the balancer-node CPU figures include some of it",
                idle));
      SystemStarter starter = new SystemStarter(lab, launcher);
      for (int repeat = 1; repeat <= plan.repeats(); repeat++) {
        for (SystemKind system : plan.systems()) {
          runSystem(lab, starter, system, repeat, results);
        }
      }
    } finally {
      steering.restoreThisJvm();
    }
    List<ConfigResult> table = results.aggregate(plan);
    BenchSummary summary = BenchSummary.of(table, results.handoffs());
    BaselineCheck check = BaselineCheck.of(table, results.failures(), plan.pacedRate());
    ReportWriter.ReportFiles files =
        writer.write(plan, results, table, summary, check, machine(), notes);
    say("");
    out.print(ReportWriter.table(table));
    say("");
    notes.forEach(n -> say("note: " + n));
    results.failures().forEach(f -> say("FAILED: " + f));
    say(
        "took "
            + minutes(Duration.ofNanos(System.nanoTime() - started))
            + "; report: "
            + files.markdown()
            + ", "
            + files.json()
            + (files.chart() == null ? " (no chart)" : ", " + files.chart()));
    say("");
    check.lines().forEach(this::say);
    summary.lines().forEach(this::say);
    return new Outcome(files, summary, check, results.failures());
  }

  private void runSystem(
      BenchLab lab, SystemStarter starter, SystemKind system, int repeat, BenchResults results)
      throws InterruptedException {
    String tag = "[" + repeat + "/" + plan.repeats() + "] " + system.label();
    RunningSystem running;
    try {
      lab.checkNginxServers();
      running = starter.start(system);
    } catch (IOException | RuntimeException e) {
      results.fail(tag + ": did not start: " + e.getMessage());
      say(tag + ": did not start: " + e.getMessage());
      return;
    }
    try (running) {
      double[] first = warmUp(lab, running, system, plan.warmupFor(system));
      double[] idle = idleCpu0MsPerSecond(running);
      // The idle check's pause deoptimises a JVM's hottest code (uncommon traps in the fabric
      // codec and the event loop on what only an idle node does), and C2's recompilation would
      // otherwise land in the first measured run: a second warm-up takes it, as long as it needs.
      double[] warm = warmUp(lab, running, system, plan.rewarm());
      results.add(
          new IdleCheck(system.label(), repeat, idle[0], idle[1], first[0] + warm[0], warm[1]));
      say(
          String.format(
              "%s: up and warm; CPU 0 busy %.1f ms/s while it idles%s",
              tag,
              idle[0],
              BenchPlan.isJvm(system)
                  ? String.format(
                      "; warm-up %.0f s, JIT compilers %.1f ms/s at its end%s",
                      first[0] + warm[0],
                      warm[1],
                      warm[1] < BenchPlan.JIT_QUIET_MS_PER_SECOND ? "" : " (still busy)")
                  : ""));
      // One failed run (wrk timed out, say) costs that run only: the system's other sizes and
      // modes are still measured, unless the system itself died.
      for (ConnectionMode mode : plan.modes()) {
        for (ResponseSize size : plan.sizes()) {
          if (!measureOrRecord(
              lab,
              running,
              system,
              mode,
              size,
              plan.concurrency(),
              plan.duration(),
              repeat,
              results,
              tag)) {
            return;
          }
        }
      }
      if (!plan.serialDuration().isZero()) {
        measureOrRecord(
            lab,
            running,
            system,
            ConnectionMode.SERIAL,
            plan.smallest(),
            1,
            plan.serialDuration(),
            repeat,
            results,
            tag);
      }
      running.checkAlive();
    } catch (IOException | RuntimeException e) {
      results.fail(tag + ": " + e.getMessage());
      say(tag + ": FAILED: " + e.getMessage());
    }
  }

  /**
   * Warms {@code system} up with close-mode load at the smallest size for {@code fixed}; a JVM
   * system goes on, a {@link BenchPlan#jitWarmupStep} at a time through {@link
   * BenchPlan#jitWarmupRound}, until its JIT compilers used less than {@link
   * BenchPlan#JIT_QUIET_MS_PER_SECOND} in every step of a round in a row (each size and mode takes
   * paths the others do not: the relay's pumps for answers larger than a pipe, the embedded app's
   * keep-alive), up to {@link BenchPlan#jitWarmupLimit} more. Returns the warm-up's length in
   * seconds and the compilers' highest ms/s in its last round (0 for a system without a JVM).
   */
  private double[] warmUp(BenchLab lab, RunningSystem running, SystemKind system, Duration fixed)
      throws IOException, InterruptedException {
    String url = running.baseUrl();
    if (!BenchPlan.isJvm(system)) {
      Wrk.run(
          lab.client,
          url + plan.smallest().path(),
          plan.concurrency(),
          ConnectionMode.CLOSE,
          fixed);
      return new double[] {fixed.toMillis() / 1e3, 0};
    }
    Duration step =
        fixed.compareTo(plan.jitWarmupStep(system)) < 0 ? fixed : plan.jitWarmupStep(system);
    Duration end = fixed.plus(plan.jitWarmupLimit(system));
    Duration done = fixed.minus(step);
    if (!done.isZero()) {
      Wrk.run(
          lab.client, url + plan.smallest().path(), plan.concurrency(), ConnectionMode.CLOSE, done);
    }
    List<BenchPlan.WarmStep> round = plan.jitWarmupRound();
    double[] lastRound = new double[round.size()];
    java.util.Arrays.fill(lastRound, Double.MAX_VALUE);
    int quietInARow = 0;
    for (int k = 0; quietInARow < round.size() && done.compareTo(end) < 0; k++) {
      BenchPlan.WarmStep load = round.get(k % round.size());
      long ticks0 = running.compilerTicks();
      long t0 = System.nanoTime();
      Wrk.run(lab.client, url + load.size().path(), plan.concurrency(), load.mode(), step);
      double jit = jitMsPerSecond(running.compilerTicks() - ticks0, System.nanoTime() - t0);
      lastRound[k % round.size()] = jit;
      quietInARow = jit < BenchPlan.JIT_QUIET_MS_PER_SECOND ? quietInARow + 1 : 0;
      done = done.plus(step);
    }
    double highest = 0;
    for (double jit : lastRound) if (jit != Double.MAX_VALUE) highest = Math.max(highest, jit);
    return new double[] {done.toMillis() / 1e3, highest};
  }

  /** Compiler-thread clock ticks over {@code nanos} of wall time, as milliseconds per second. */
  static double jitMsPerSecond(long ticks, long nanos) {
    return ticks * CpuTimes.MICROS_PER_TICK / 1e3 / Math.max(1e-9, nanos / 1e9);
  }

  /** Measures one run; records a failure instead of throwing. False when the system is gone. */
  private boolean measureOrRecord(
      BenchLab lab,
      RunningSystem running,
      SystemKind system,
      ConnectionMode mode,
      ResponseSize size,
      int connections,
      Duration duration,
      int repeat,
      BenchResults results,
      String tag)
      throws InterruptedException {
    try {
      measure(lab, running, mode, size, connections, duration, repeat, results, tag);
      return true;
    } catch (IOException | RuntimeException e) {
      results.failRun(system, mode, size, repeat, String.valueOf(e.getMessage()));
      say(
          String.format(
              "%s %-10s %-8s FAILED: %s", tag, mode.label(), size.label(), e.getMessage()));
      try {
        running.checkAlive();
        return true;
      } catch (IOException | RuntimeException dead) {
        results.fail(tag + ": " + dead.getMessage());
        say(tag + ": the system is gone: " + dead.getMessage());
        return false;
      }
    }
  }

  private void measure(
      BenchLab lab,
      RunningSystem running,
      ConnectionMode mode,
      ResponseSize size,
      int connections,
      Duration duration,
      int repeat,
      BenchResults results,
      String tag)
      throws IOException, InterruptedException {
    double noise = awaitQuietCpu0();
    Cpu0Spinner spinner = awakeCpu0 ? Cpu0Spinner.start(duration.plusSeconds(30)) : null;
    long spin0 = spinner == null ? 0 : spinner.ticks();
    HandoffCounters handoffs0 = running.handoffCounters();
    long process0 = running.balancerProcessTicks();
    long compiler0 = running.compilerTicks();
    long started = System.nanoTime();
    InterfaceStats front0 = lab.lb.interfaceStats("front");
    CpuTimes cpu0 = CpuTimes.read();
    Wrk.Result wrk;
    CpuTimes cpu;
    try {
      String url = running.baseUrl() + size.path();
      wrk =
          mode == ConnectionMode.PACED
              ? Hey.run(
                  lab.client,
                  url,
                  plan.pacedRate(),
                  Math.min(connections, plan.pacedRate()),
                  duration)
              : Wrk.run(lab.client, url, connections, mode, duration);
      cpu = CpuTimes.read().minus(cpu0);
      if (spinner != null) cpu = cpu.withoutCpu0Load(spinner.ticks() - spin0);
    } finally {
      if (spinner != null) spinner.close();
    }
    if (wrk.requests() == 0) {
      // Not a measurement: every figure would be a division by nothing (seen: a Baton latency
      // probe whose only connection stalled for the whole second).
      throw new IOException("no request completed in " + duration.toSeconds() + " s");
    }
    InterfaceStats front1 = lab.lb.interfaceStats("front");
    long process = running.balancerProcessTicks() - process0;
    double jit = jitMsPerSecond(running.compilerTicks() - compiler0, System.nanoTime() - started);
    HandoffCounters handoffs1 = running.handoffCounters();
    long frontBytes = front1.rxBytes() - front0.rxBytes() + front1.txBytes() - front0.txBytes();
    Measurement m =
        Measurement.of(
            running.kind(), mode, size, repeat, wrk, noise, cpu, process, frontBytes, jit);
    results.add(m);
    String handoffText = "";
    if (handoffs0 != null && handoffs1 != null) {
      HandoffMeasurement h =
          HandoffMeasurement.of(
              running.kind(), mode, size, repeat, handoffs1.minus(handoffs0), process);
      results.add(h);
      handoffText =
          String.format(
              "  handoffs %d: dispatcher %.1f µs each, p50 %.0f µs, p99 %.0f µs",
              h.handoffs(), h.dispatcherUsPerHandoff(), h.handoffP50Us(), h.handoffP99Us());
    }
    say(
        String.format(
                "%s %-10s %-8s %8.0f req/s  p50 %7.0f µs  p99 %7.0f µs  errors %d  balancer-node CPU %7.1f µs/req"
                    + " (processes %.1f)  machine %7.1f µs/req  front %,.0f B/req  CPU 0 noise %.0f ms/s"
                    + "  JIT %.0f ms/s",
                tag,
                mode.label(),
                size.label(),
                m.requestsPerSecond(),
                m.latencyP50Us(),
                m.latencyP99Us(),
                m.errors(),
                m.balancerCpuUsPerRequest(),
                m.balancerProcessUsPerRequest(),
                m.machineCpuUsPerRequest(),
                m.frontBytesPerRequest(),
                noise,
                jit)
            + handoffText);
  }

  /**
   * Waits, at most {@link #QUIET_WAIT}, for a window of {@link #QUIET_WINDOW} in which CPU 0 is
   * busy less than {@link #QUIET_MS_PER_SECOND} (other programs on this machine come and go), and
   * returns the busy time per second of the last window: the noise the next run's CPU 0 figure
   * carries.
   */
  private static double awaitQuietCpu0() throws InterruptedException {
    long deadline = System.nanoTime() + QUIET_WAIT.toNanos();
    double msPerSecond;
    do {
      CpuTimes before = CpuTimes.read();
      long t0 = System.nanoTime();
      Thread.sleep(QUIET_WINDOW.toMillis());
      CpuTimes delta = CpuTimes.read().minus(before);
      msPerSecond =
          delta.cpu0Busy()
              * (1000.0 / CpuTimes.TICKS_PER_SECOND)
              / ((System.nanoTime() - t0) / 1e9);
    } while (msPerSecond >= QUIET_MS_PER_SECOND && System.nanoTime() - deadline < 0);
    return msPerSecond;
  }

  /**
   * CPU 0's busy time and the balancer processes' CPU time, per second, over {@link
   * BenchPlan#IDLE_CHECK}.
   */
  private static double[] idleCpu0MsPerSecond(RunningSystem running) throws InterruptedException {
    long process0 = running == null ? 0 : running.balancerProcessTicks();
    CpuTimes before = CpuTimes.read();
    long t0 = System.nanoTime();
    Thread.sleep(BenchPlan.IDLE_CHECK.toMillis());
    CpuTimes delta = CpuTimes.read().minus(before);
    double seconds = (System.nanoTime() - t0) / 1e9;
    long process = running == null ? 0 : running.balancerProcessTicks() - process0;
    double msPerTick = 1000.0 / CpuTimes.TICKS_PER_SECOND;
    return new double[] {delta.cpu0Busy() * msPerTick / seconds, process * msPerTick / seconds};
  }

  /** CPU model, CPUs, memory, kernel, and the versions of what is measured. */
  private static Map<String, String> machine() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(
        "cpu",
        firstMatch(Path.of("/proc/cpuinfo"), "model name")
            + ", "
            + Runtime.getRuntime().availableProcessors()
            + " CPUs");
    m.put("memory", firstMatch(Path.of("/proc/meminfo"), "MemTotal"));
    m.put("kernel", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    m.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
    m.put("haproxy", version("haproxy", "-v"));
    m.put("nginx", version("nginx", "-v"));
    m.put("wrk", version("wrk", "-v"));
    return m;
  }

  private static String firstMatch(Path file, String key) {
    try {
      return Files.readAllLines(file).stream()
          .filter(l -> l.startsWith(key))
          .findFirst()
          .map(l -> l.substring(l.indexOf(':') + 1).strip())
          .orElse("?");
    } catch (IOException e) {
      return "?";
    }
  }

  private static String version(String... command) {
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
      return text.lines().filter(l -> !l.isBlank()).findFirst().orElse("?").strip();
    } catch (IOException e) {
      return "not installed";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "?";
    }
  }

  private static String minutes(Duration d) {
    long s = d.toSeconds();
    return s < 120 ? s + " s" : String.format("%d min %02d s", s / 60, s % 60);
  }

  private void say(String line) {
    out.println(line);
    out.flush();
  }
}
