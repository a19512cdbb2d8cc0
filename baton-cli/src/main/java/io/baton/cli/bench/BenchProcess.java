package io.baton.cli.bench;

import io.baton.lab.Host;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * One long-running process of a benchmark system (a Baton node, nginx, HAProxy), started in a lab
 * host by {@link Host#start}: waits for it to become ready, reads the CPU time it and its children
 * used, and stops it with SIGTERM, then SIGKILL, each wait bounded. The lab kills it anyway on
 * close.
 *
 * <p>Thread-safe (the process handle is).
 */
final class BenchProcess {
  private static final Duration TERM_WAIT = Duration.ofSeconds(5);
  private static final Duration KILL_WAIT = Duration.ofSeconds(5);
  private static final long POLL_MS = 20;

  private final String label;
  private final Host host;
  private final Process process;

  private BenchProcess(String label, Host host, Process process) {
    this.label = label;
    this.host = host;
    this.process = process;
  }

  static BenchProcess start(Host host, String label, List<String> command) {
    return new BenchProcess(label, host, host.start(command));
  }

  /**
   * Polls {@code ready} until it holds; fails, with the end of the process's stderr, when the
   * process exits or {@code limit} passes first.
   */
  void awaitReady(String what, Duration limit, BooleanSupplier ready)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      if (ready.getAsBoolean()) return;
      if (!process.isAlive()) {
        throw new IOException(
            label
                + " exited with "
                + process.exitValue()
                + " before "
                + what
                + ": "
                + stderrTail());
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IOException(
            label + " not ready (" + what + ") after " + limit.toSeconds() + " s: " + stderrTail());
      }
      Thread.sleep(POLL_MS); // polling interval of a deadline-bounded wait
    }
  }

  /** Fails with the process's stderr if it has exited. */
  void checkAlive() throws IOException {
    if (!process.isAlive()) {
      throw new IOException(label + " exited with " + process.exitValue() + ": " + stderrTail());
    }
  }

  /** User + system clock ticks of the process and its descendants, from /proc/PID/stat. */
  long cpuTicks() {
    return Stream.concat(Stream.of(process.toHandle()), process.descendants())
        .mapToLong(h -> ticksOf(h.pid()))
        .sum();
  }

  /** Clock ticks used so far by the JIT compiler threads of the process and its descendants. */
  long compilerTicks() {
    return Stream.concat(Stream.of(process.toHandle()), process.descendants())
        .mapToLong(h -> CompilerThreads.ticksOf(h.pid()))
        .sum();
  }

  /**
   * SIGTERM, a bounded wait, then SIGKILL and another bounded wait. When interrupted, kills at once
   * and keeps the thread's interrupt status.
   */
  void stop() {
    if (!process.isAlive()) return;
    List<ProcessHandle> children = process.descendants().toList();
    process.destroy();
    try {
      if (!process.waitFor(TERM_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    for (ProcessHandle child : children) {
      if (child.isAlive()) child.destroyForcibly();
    }
  }

  /** The file holding the process's standard output. */
  Path stdout() {
    return host.stdoutOf(process);
  }

  /** The last lines of the process's stderr, or a note that there were none. */
  String stderrTail() {
    try {
      List<String> lines = Files.readAllLines(host.stderrOf(process));
      if (lines.isEmpty()) return "(no output on stderr)";
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())).strip();
    } catch (IOException e) {
      return "(stderr unreadable: " + e.getMessage() + ")";
    }
  }

  /** Everything the process wrote on stderr so far. */
  String stderr() {
    try {
      return Files.readString(host.stderrOf(process));
    } catch (IOException e) {
      return "";
    }
  }

  String label() {
    return label;
  }

  long pid() {
    return process.pid();
  }

  static long ticksOf(long pid) {
    try {
      return ticksFromStat(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
    } catch (IOException | RuntimeException gone) {
      return 0; // the process ended between listing and reading
    }
  }

  /** utime + stime of a {@code /proc/PID/stat} or {@code /proc/PID/task/TID/stat} line. */
  static long ticksFromStat(String stat) {
    // Fields after the command name (which may hold spaces and parentheses) start at field 3
    // (state); utime and stime are fields 14 and 15.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }
}
