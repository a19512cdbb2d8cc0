package io.baton.cli.bench;

import java.io.File;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Keeps CPU 0 from ever idling during a measured run: a busy loop pinned to CPU 0 at {@code
 * SCHED_IDLE}, the lowest priority, so it runs only when nothing else wants the CPU and yields at
 * once. On a VM, a CPU that idles between packets pays for every wake-up (halt, IPIs, timer
 * reprogramming), and the balancer that leaves the CPU idle most is charged most; with the spinner
 * no system pays it, and the balancer's figure is CPU 0's busy time minus the spinner's own.
 * Bounded: the loop is wrapped in {@code timeout} and killed when the run ends.
 *
 * <p>Confined to the runner's thread.
 */
final class Cpu0Spinner implements AutoCloseable {
  private final Process process;

  private Cpu0Spinner(Process process) {
    this.process = process;
  }

  /** Starts the spinner for at most {@code limit}. */
  static Cpu0Spinner start(Duration limit) throws IOException {
    Process p =
        new ProcessBuilder(
                List.of(
                    "taskset",
                    "-c",
                    "0",
                    "chrt",
                    "--idle",
                    "0",
                    "timeout",
                    Long.toString(Math.max(1, limit.toSeconds())),
                    "sh",
                    "-c",
                    "while :; do :; done"))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    return new Cpu0Spinner(p);
  }

  /** User + system ticks of the spinner (and the loop it runs) so far. */
  long ticks() {
    long sum = BenchProcess.ticksOf(process.pid());
    for (ProcessHandle h : process.descendants().toList()) sum += BenchProcess.ticksOf(h.pid());
    return sum;
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
