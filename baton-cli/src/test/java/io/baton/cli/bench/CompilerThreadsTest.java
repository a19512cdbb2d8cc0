package io.baton.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * How the harness tells a JVM's JIT compilers apart and how long it warms a JVM system up: the
 * thread names against this JVM's own threads (the fact the warm-up rests on), the arithmetic with
 * made-up ticks, and the plan's steps and limits.
 */
class CompilerThreadsTest {
  private static final ResponseSize KIB = ResponseSize.parse("1k");

  @Test
  void thisJvmsCompilerThreadsAreFoundByTheirKernelNames() throws IOException {
    List<String> names = new ArrayList<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path t : tasks.toList()) names.add(Files.readString(t.resolve("comm")).strip());
    }
    assertThat(names).anyMatch(CompilerThreads::isCompiler);
    assertThat(names.stream().filter(CompilerThreads::isCompiler))
        .allMatch(n -> n.equals("C1 CompilerThre") || n.equals("C2 CompilerThre"));
    assertThat(names).filteredOn(n -> n.equals("main")).noneMatch(CompilerThreads::isCompiler);
    assertThat(CompilerThreads.ticksOf(ProcessHandle.current().pid())).isNotNegative();
  }

  @Test
  void otherThreadsAndAGoneProcessCountNothing() {
    assertThat(CompilerThreads.isCompiler("multiThreadIoEv")).isFalse();
    assertThat(CompilerThreads.isCompiler("C2 CompilerThre\n")).isTrue();
    assertThat(CompilerThreads.isCompiler("VM Thread")).isFalse();
    assertThat(CompilerThreads.ticksOf(Long.MAX_VALUE)).isZero();
  }

  @Test
  void aThreadsTicksAreUtimePlusStimeEvenWithParenthesesInItsName() {
    String stat =
        "4242 (C2 CompilerThre) S 1 4242 4242 0 -1 4194368 100 0 0 0 37 5 0 0 20 0 30 0 99"
            + " 1000 10 18446744073709551615";
    assertThat(BenchProcess.ticksFromStat(stat)).isEqualTo(42);
    String odd = "7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 5 1 1 1";
    assertThat(BenchProcess.ticksFromStat(odd)).isEqualTo(33);
  }

  @Test
  void compilerTicksBecomeMillisecondsPerSecondOfWallTime() {
    // 10 ms per tick (USER_HZ 100): 25 ticks in 5 s are 50 ms/s.
    assertThat(BenchRunner.jitMsPerSecond(25, 5_000_000_000L)).isEqualTo(50.0);
    assertThat(BenchRunner.jitMsPerSecond(0, 5_000_000_000L)).isZero();
  }

  @Test
  void aJvmSystemIsWarmedInStepsUpToTwiceItsWarmUpMoreTheOthersNot() {
    BenchPlan plan = plan(Duration.ofSeconds(10));
    assertThat(plan.warmupFor(SystemKind.BATON_RELAY)).isEqualTo(Duration.ofSeconds(40));
    assertThat(plan.jitWarmupStep(SystemKind.BATON_RELAY)).isEqualTo(Duration.ofSeconds(5));
    assertThat(plan.jitWarmupLimit(SystemKind.BATON_RELAY)).isEqualTo(Duration.ofSeconds(80));
    assertThat(plan.jitWarmupLimit(SystemKind.DIRECT_APP)).isEqualTo(Duration.ofSeconds(80));
    assertThat(plan.jitWarmupLimit(SystemKind.HAPROXY)).isZero();
    assertThat(plan.jitWarmupLimit(SystemKind.NGINX_PROXY)).isZero();

    BenchPlan tiny = plan(Duration.ofSeconds(1));
    assertThat(tiny.jitWarmupStep(SystemKind.BATON_EMBEDDED)).isEqualTo(Duration.ofSeconds(4));
    assertThat(tiny.jitWarmupLimit(SystemKind.BATON_EMBEDDED)).isEqualTo(Duration.ofSeconds(8));
  }

  @Test
  void theWarmUpStepsThroughEverySizeClosedThenKeptAliveNeverPaced() {
    ResponseSize mib = ResponseSize.parse("1m");
    BenchPlan both =
        new BenchPlan(
            List.of(SystemKind.BATON_RELAY),
            List.of(mib, KIB),
            List.of(ConnectionMode.PACED, ConnectionMode.KEEP_ALIVE, ConnectionMode.CLOSE),
            Duration.ofSeconds(5),
            Duration.ofSeconds(10),
            Duration.ZERO,
            1,
            16,
            200);
    assertThat(both.jitWarmupRound())
        .containsExactly(
            new BenchPlan.WarmStep(ConnectionMode.CLOSE, KIB),
            new BenchPlan.WarmStep(ConnectionMode.CLOSE, mib),
            new BenchPlan.WarmStep(ConnectionMode.KEEP_ALIVE, KIB),
            new BenchPlan.WarmStep(ConnectionMode.KEEP_ALIVE, mib));
    assertThat(plan(Duration.ofSeconds(10)).jitWarmupRound())
        .containsExactly(new BenchPlan.WarmStep(ConnectionMode.CLOSE, KIB));
  }

  @Test
  void theEstimateCountsHalfOfEachJvmSystemsJitLimit() {
    BenchPlan jvm = plan(Duration.ofSeconds(10), SystemKind.BATON_RELAY);
    BenchPlan proxy = plan(Duration.ofSeconds(10), SystemKind.HAPROXY);
    // 40 s of fixed warm-up against 10, 3 s more to start, and 40 s for half the JIT limit.
    assertThat(jvm.estimate().minus(proxy.estimate())).isEqualTo(Duration.ofSeconds(30 + 3 + 40));
  }

  private static BenchPlan plan(Duration warmup, SystemKind... systems) {
    return new BenchPlan(
        systems.length == 0 ? List.of(SystemKind.HAPROXY) : List.of(systems),
        List.of(KIB),
        List.of(ConnectionMode.CLOSE),
        Duration.ofSeconds(5),
        warmup,
        Duration.ZERO,
        1,
        16,
        0);
  }
}
