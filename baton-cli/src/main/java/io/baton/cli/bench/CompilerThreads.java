package io.baton.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * CPU time of a JVM's JIT compiler threads, read from {@code /proc/PID/task/TID/{comm,stat}}: what
 * the harness watches to end a JVM system's warm-up once C1 and C2 have gone quiet, and records
 * beside every measured run. HotSpot names them {@code C1 CompilerThread0}, {@code C2
 * CompilerThread1}, ..., which the kernel's 15-character {@code comm} cuts to {@code C2
 * CompilerThre}. A process without such threads (nginx, HAProxy) has 0. Stateless.
 */
final class CompilerThreads {
  private CompilerThreads() {}

  /** True for a JIT compiler thread's {@code comm}. */
  static boolean isCompiler(String comm) {
    String c = comm.strip();
    return c.startsWith("C1 CompilerThre") || c.startsWith("C2 CompilerThre");
  }

  /** User + system clock ticks of {@code pid}'s compiler threads; 0 once the process is gone. */
  static long ticksOf(long pid) {
    Path tasks = Path.of("/proc", Long.toString(pid), "task");
    long sum = 0;
    try (Stream<Path> list = Files.list(tasks)) {
      for (Path task : list.toList()) {
        try {
          if (isCompiler(Files.readString(task.resolve("comm")))) {
            sum += BenchProcess.ticksFromStat(Files.readString(task.resolve("stat")));
          }
        } catch (IOException | RuntimeException gone) {
          // the thread ended between listing and reading: its time is not counted
        }
      }
    } catch (IOException | RuntimeException gone) {
      return 0; // the process ended
    }
    return sum;
  }
}
