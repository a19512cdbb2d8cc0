package io.baton.dataplane;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * The kernel's own memory as /proc/meminfo counts it, for measuring what kernel objects cost:
 * {@code SUnreclaim} (slab caches and, since Linux 5.x, the pages of large kmallocs such as
 * nftables' hash bucket arrays) plus {@code VmallocUsed} (where kvmalloc puts bucket arrays too
 * large for kmalloc). nftables elements are allocated with {@code GFP_KERNEL_ACCOUNT} from
 * unreclaimable caches, so they land here and nowhere else; page cache and user memory do not. The
 * counters are machine-wide, so other activity on the host shows as noise: measure the same objects
 * being made and freed, and compare.
 */
record KernelMemory(long unreclaimableSlabBytes, long vmallocBytes) {
  private static final Path MEMINFO = Path.of("/proc/meminfo");

  static KernelMemory read() {
    long slab = -1;
    long vmalloc = -1;
    try {
      for (String line : Files.readAllLines(MEMINFO)) {
        if (line.startsWith("SUnreclaim:")) slab = kib(line);
        else if (line.startsWith("VmallocUsed:")) vmalloc = kib(line);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (slab < 0 || vmalloc < 0)
      throw new IllegalStateException(MEMINFO + " has no SUnreclaim or VmallocUsed");
    return new KernelMemory(slab, vmalloc);
  }

  /**
   * Reads the counters until they stop moving (three reads 200 ms apart within 256 KiB of each
   * other), or {@code limit} passes: freeing a table's memory waits for RCU grace periods and a
   * worker, so it shows up a little after the call that freed it.
   */
  static KernelMemory settled(Duration limit) {
    long deadlineNs = System.nanoTime() + limit.toNanos();
    KernelMemory previous = read();
    int steady = 0;
    while (System.nanoTime() - deadlineNs < 0 && steady < 2) {
      LockSupport.parkNanos(200_000_000L);
      KernelMemory now = read();
      steady = Math.abs(now.total() - previous.total()) <= 256 * 1024 ? steady + 1 : 0;
      previous = now;
    }
    return previous;
  }

  long total() {
    return unreclaimableSlabBytes + vmallocBytes;
  }

  /** Bytes from {@code before} to this reading (negative when memory was freed). */
  long since(KernelMemory before) {
    return total() - before.total();
  }

  private static long kib(String line) {
    String[] f = line.trim().split("\\s+");
    return Long.parseLong(f[1]) * 1024;
  }
}
