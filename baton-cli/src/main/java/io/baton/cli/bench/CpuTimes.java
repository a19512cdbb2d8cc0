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
    List<String> lines;
    try {
      lines = Files.readAllLines(PROC_STAT);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + PROC_STAT, e);
    }
    long[] machine = null;
    long[] cpu0 = null;
    for (String line : lines) {
      if (line.startsWith("cpu ")) machine = fields(line);
      else if (line.startsWith("cpu0 ")) cpu0 = fields(line);
    }
    if (machine == null || cpu0 == null)
      throw new IllegalStateException(PROC_STAT + " has no cpu or cpu0 line");
    return new CpuTimes(busy(cpu0), cpu0[5] + cpu0[6], total(cpu0), busy(machine), total(machine));
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
