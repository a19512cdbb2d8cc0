package io.baton.cli.bench;

import java.time.Duration;
import java.util.List;

/**
 * What one benchmark run measures and for how long. The runner loops repeats outermost, then
 * systems, then modes and sizes, so slow drifts of the machine spread over every system instead of
 * landing on one. Immutable.
 *
 * @param systems systems to compare, in the order each repeat visits them
 * @param sizes response sizes, ascending
 * @param modes {@link ConnectionMode#CLOSE}, {@link ConnectionMode#KEEP_ALIVE}, {@link
 *     ConnectionMode#PACED}: any of them
 * @param duration length of each measured wrk run
 * @param warmup unmeasured load after each system start (JIT, caches, fabric connections)
 * @param serialDuration length of the one-connection-at-a-time latency probe; zero skips it
 * @param repeats how often every configuration is measured
 * @param concurrency open connections of each measured wrk run
 * @param pacedRate new connections per second of {@link ConnectionMode#PACED} runs (0 without)
 */
record BenchPlan(
    List<SystemKind> systems,
    List<ResponseSize> sizes,
    List<ConnectionMode> modes,
    Duration duration,
    Duration warmup,
    Duration serialDuration,
    int repeats,
    int concurrency,
    int pacedRate) {
  /** Time to start a system and see it answer, measured on the 2-core lab machine. */
  private static final Duration BATON_START = Duration.ofSeconds(5);

  private static final Duration OTHER_START = Duration.ofSeconds(2);

  /** The pinning check: CPU 0 watched for this long with the balancer idle. */
  static final Duration IDLE_CHECK = Duration.ofSeconds(1);

  /**
   * Per wrk run beyond its duration: the quiet-CPU check (0.5 s or more), process start, counters.
   */
  private static final Duration RUN_OVERHEAD = Duration.ofMillis(1000);

  private static final Duration LAB_SETUP = Duration.ofSeconds(15);

  BenchPlan {
    systems = List.copyOf(systems);
    sizes = List.copyOf(sizes.stream().sorted().distinct().toList());
    modes = List.copyOf(modes);
    if (systems.isEmpty() || sizes.isEmpty() || modes.isEmpty()) {
      throw new IllegalArgumentException("a plan needs at least one system, size and mode");
    }
    if (modes.contains(ConnectionMode.SERIAL)) {
      throw new IllegalArgumentException(
          "the serial probe is set by serialDuration, not as a mode");
    }
    if (repeats < 1 || concurrency < 1 || duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException("repeats, concurrency and duration must be positive");
    }
    if (modes.contains(ConnectionMode.PACED) != pacedRate > 0) {
      throw new IllegalArgumentException(
          "a paced rate goes with the paced mode, and only with it: " + pacedRate);
    }
  }

  /** Measured wrk runs in one repeat. */
  int runsPerRepeat() {
    return systems.size() * (sizes.size() * modes.size() + (serialDuration.isZero() ? 0 : 1));
  }

  /**
   * Warm-up for {@code system}: JVM-based systems (Baton, the standalone sample app) get four times
   * the configured time, so what is measured is their steady state rather than their JIT compilers
   * (profiled: C1/C2 threads took a third of the dispatcher's CPU after a 10 s warm-up; the
   * dispatcher's CPU per handoff still fell from 877 to ~450 µs between 20 s and 60 s).
   */
  Duration warmupFor(SystemKind system) {
    return isJvm(system) ? warmup.multipliedBy(4) : warmup;
  }

  /**
   * The second, short warm-up of every system after its idle check: the check's pause makes a JVM
   * deoptimise code it compiled under load (uncommon traps in the fabric codec and the event loop
   * on messages and paths only an idle node takes), and the recompilation (about 2.5 s of C2 on the
   * dispatcher's CPU, measured with {@code -Xlog:jit+compilation,deoptimization}) would otherwise
   * be charged to the first measured run. The same for every system; at most 5 s.
   */
  Duration rewarm() {
    return warmup.compareTo(MAX_REWARM) < 0 ? warmup : MAX_REWARM;
  }

  private static final Duration MAX_REWARM = Duration.ofSeconds(5);

  /**
   * A JVM system's warm-up ends once its JIT compiler threads (C1 and C2 of all its JVMs together)
   * used less than this in the last {@link #jitWarmupStep}: 2.5 % of a core.
   */
  static final double JIT_QUIET_MS_PER_SECOND = 25;

  private static final Duration MAX_JIT_STEP = Duration.ofSeconds(5);

  /** True for the systems run by JVMs: Baton's and the standalone sample app. */
  static boolean isJvm(SystemKind system) {
    return system.isBaton() || system == SystemKind.DIRECT_APP;
  }

  /**
   * Load between two looks at a JVM system's compilers at the end of its warm-up: the last part of
   * {@link #warmupFor}, then as often as needed up to {@link #jitWarmupLimit}. At most 5 s.
   */
  Duration jitWarmupStep(SystemKind system) {
    Duration w = warmupFor(system);
    return w.compareTo(MAX_JIT_STEP) < 0 ? w : MAX_JIT_STEP;
  }

  /** One step of a JVM system's JIT warm-up: wrk's load at one size in one mode. */
  record WarmStep(ConnectionMode mode, ResponseSize size) {}

  /**
   * The loads a JVM system's JIT warm-up steps through, in turn: every size in close mode, then, if
   * the plan measures keep-alive, every size in keep-alive. The paced mode's load (hey's bursts
   * with idle gaps) is not among them: wrk cannot make it.
   */
  List<WarmStep> jitWarmupRound() {
    List<WarmStep> round = new java.util.ArrayList<>();
    for (ResponseSize size : sizes) round.add(new WarmStep(ConnectionMode.CLOSE, size));
    if (modes.contains(ConnectionMode.KEEP_ALIVE)) {
      for (ResponseSize size : sizes) round.add(new WarmStep(ConnectionMode.KEEP_ALIVE, size));
    }
    return List.copyOf(round);
  }

  /**
   * How much longer than {@link #warmupFor} a JVM system is warmed up at most while its compilers
   * are still busy: twice that (zero for the others). The servers of a Baton farm each restore a
   * third of the connections, so their per-connection code reaches C2 only after minutes: after a
   * fixed 40 s, their C2 threads still took 285-326 ms/s of the farm's CPU during the measured runs
   * (bench/README.md, "What a handoff costs", item 31).
   */
  Duration jitWarmupLimit(SystemKind system) {
    return isJvm(system) ? warmupFor(system).multipliedBy(2) : Duration.ZERO;
  }

  /**
   * Rough wall-clock time of the whole run, printed before it starts: with half of each JVM
   * system's {@link #jitWarmupLimit}, as a middle between compilers quiet at once and never.
   */
  Duration estimate() {
    Duration perRepeat = Duration.ZERO;
    for (SystemKind s : systems) {
      perRepeat =
          perRepeat
              .plus(s.isBaton() ? BATON_START : OTHER_START)
              .plus(warmupFor(s))
              .plus(jitWarmupLimit(s).dividedBy(2))
              .plus(RUN_OVERHEAD)
              .plus(IDLE_CHECK)
              .plus(rewarm())
              .plus(duration.plus(RUN_OVERHEAD).multipliedBy((long) sizes.size() * modes.size()));
      if (!serialDuration.isZero()) perRepeat = perRepeat.plus(serialDuration).plus(RUN_OVERHEAD);
    }
    return LAB_SETUP.plus(perRepeat.multipliedBy(repeats));
  }

  /** The smallest size: warm-up and the serial latency probe use it. */
  ResponseSize smallest() {
    return sizes.getFirst();
  }
}
