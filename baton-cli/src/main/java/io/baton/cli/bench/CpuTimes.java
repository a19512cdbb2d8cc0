package io.baton.cli.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Busy and total time of CPU 0 and of the whole machine from {@code /proc/stat}, in clock ticks
 * (USER_HZ, 100 per second on Linux). Busy is user + nice + system + irq + softirq: everything but
 * idle, iowait and the time a hypervisor stole. {@code cpu0Softirq} is irq + softirq alone: the
 * packet work RPS steers to CPU 0, whichever task it interrupted. Immutable.
 */
record CpuTimes(
    long cpu0Busy, long cpu0Softirq, long cpu0Total, long machineBusy, long machineTotal) {
  /** Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ). */
  static final long TICKS_PER_SECOND = 100;

  static final long MICROS_PER_TICK = 1_000_000 / TICKS_PER_SECOND;
  private static final Path PROC_STAT = Path.of("/proc/stat");

  static CpuTimes read() {
    List<String> lines = lines();
    long[] machine = find(lines, "cpu ");
    long[] cpu0 = find(lines, "cpu0 ");
    return new CpuTimes(busy(cpu0), cpu0[5] + cpu0[6], total(cpu0), busy(machine), total(machine));
  }

  /**
   * CPU 0's idle and iowait time in ticks. Unlike the busy columns (sampled by the tick), the
   * kernel keeps idle time exactly while the tick is stopped (NO_HZ), so wall time minus idle time
   * is CPU 0's busy time to the tick even for work too short for the tick to land in.
   */
  static long cpu0IdleTicks() {
    long[] cpu0 = find(lines(), "cpu0 ");
    return cpu0[3] + cpu0[4];
  }

  private static List<String> lines() {
    try {
      return Files.readAllLines(PROC_STAT);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + PROC_STAT, e);
    }
  }

  /** The fields of the line of {@code lines} that starts with {@code prefix}. */
  private static long[] find(List<String> lines, String prefix) {
    for (String line : lines) {
      if (line.startsWith(prefix)) return fields(line);
    }
    throw new IllegalStateException(PROC_STAT + " has no '" + prefix.strip() + "' line");
  }

  /** This reading minus an earlier one. */
  CpuTimes minus(CpuTimes earlier) {
    return new CpuTimes(
        cpu0Busy - earlier.cpu0Busy,
        cpu0Softirq - earlier.cpu0Softirq,
        cpu0Total - earlier.cpu0Total,
        machineBusy - earlier.machineBusy,
        machineTotal - earlier.machineTotal);
  }

  /**
   * This delta without {@code ticks} of a process that ran on CPU 0 (in user or system time): what
   * the rest of CPU 0 and of the machine were busy with.
   */
  CpuTimes withoutCpu0Load(long ticks) {
    return new CpuTimes(
        Math.max(0, cpu0Busy - ticks),
        cpu0Softirq,
        cpu0Total,
        Math.max(0, machineBusy - ticks),
        machineTotal);
  }

  // user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
  private static long busy(long[] f) {
    return f[0] + f[1] + f[2] + f[5] + f[6];
  }

  private static long total(long[] f) {
    long sum = 0;
    for (int i = 0; i < Math.min(8, f.length); i++) sum += f[i];
    return sum;
  }

  private static long[] fields(String line) {
    String[] parts = line.trim().split("\\s+");
    long[] values = new long[parts.length - 1];
    for (int i = 1; i < parts.length; i++) values[i - 1] = Long.parseLong(parts[i]);
    return values;
  }
}
