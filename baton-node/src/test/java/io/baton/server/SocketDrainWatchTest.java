package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.LinuxException;
import io.baton.linux.TcpSocketDiag;
import io.baton.transplant.FlowKey;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The close report waits for the kernel's answers, scripted here, with an injected clock. */
class SocketDrainWatchTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
  private static final FlowKey FLOW = flow();

  private long now = 1_000 * MS;
  private final Deque<Object> answers = new ArrayDeque<>();
  private final List<Long> asked = new ArrayList<>();
  private final AtomicInteger reports = new AtomicInteger();
  private final SocketDrainWatch watch =
      new SocketDrainWatch(
          f -> {
            asked.add(now);
            Object a = answers.isEmpty() ? null : answers.poll();
            if (a instanceof LinuxException e) throw e;
            if (a instanceof RuntimeException e) throw e;
            return (TcpSocketDiag.Found) a;
          },
          () -> now,
          Duration.ofSeconds(60),
          null,
          () -> {});

  @Test
  void reportsOnceTheKernelsSocketIsGoneAskingAtDoublingIntervals() {
    for (int i = 0; i < 10; i++) answers.add(sending(1000 - i * 100));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    long start = now;
    runUntilIdle();
    assertThat(reports).hasValue(1);
    // 10 answers of a socket still sending, then none: 11 lookups, 10, 20, 40 ... 640 ms apart.
    assertThat(asked).hasSize(11);
    List<Long> gaps = new ArrayList<>();
    long before = start;
    for (long t : asked) {
      gaps.add((t - before) / MS);
      before = t;
    }
    assertThat(gaps).containsExactly(10L, 20L, 40L, 80L, 160L, 320L, 640L, 640L, 640L, 640L, 640L);
  }

  @Test
  void timeWaitAndCloseAreReleased() {
    answers.add(new TcpSocketDiag.Found(TcpSocketDiag.TIME_WAIT, 0, 0));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    runUntilIdle();
    assertThat(reports).hasValue(1);
    answers.add(new TcpSocketDiag.Found(TcpSocketDiag.CLOSE, 0, 0));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    runUntilIdle();
    assertThat(reports).hasValue(2);
  }

  @Test
  void waitsAsLongAsTheKernelMakesProgressAndGivesUpAfterAStall() {
    // Two minutes of progress (past the 60 s stall limit in total), then FIN_WAIT2 forever.
    for (int i = 0; i < 200; i++) answers.add(sending(1_000_000 - i));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    while (answers.size() > 0) step();
    assertThat(reports).hasValue(0);
    assertThat(now - 1_000 * MS).isGreaterThan(TimeUnit.SECONDS.toNanos(60));
    for (int i = 0; i < 200; i++)
      answers.add(new TcpSocketDiag.Found(TcpSocketDiag.FIN_WAIT2, 0, 0));
    long stalledFrom = now;
    while (reports.get() == 0) step();
    assertThat(now - stalledFrom)
        .isBetween(TimeUnit.SECONDS.toNanos(60), TimeUnit.SECONDS.toNanos(61));
  }

  @Test
  void aFailedLookupReportsTheClose() {
    answers.add(new LinuxException("SOCK_DIAG_BY_FAMILY", "no reply from the kernel in time"));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    runUntilIdle();
    assertThat(reports).hasValue(1);
    assertThat(watch.waiting()).isZero();
  }

  @Test
  void aLookupThatThrowsReportsTheCloseAndTheOthersGoOn() {
    answers.add(new IllegalStateException("a bug in the lookup"));
    answers.add(sending(10));
    watch.afterRelease(FLOW, reports::incrementAndGet);
    watch.afterRelease(FLOW, reports::incrementAndGet);
    runUntilIdle();
    assertThat(reports).hasValue(2);
    assertThat(watch.waiting()).isZero();
  }

  @Test
  void nothingIsAskedBeforeTheFirstCheckIsDue() {
    watch.afterRelease(FLOW, reports::incrementAndGet);
    assertThat(watch.poll()).isEqualTo(now + SocketDrainWatch.FIRST_CHECK_NS);
    assertThat(asked).isEmpty();
    assertThat(watch.waiting()).isOne();
  }

  private static TcpSocketDiag.Found sending(long unacknowledged) {
    return new TcpSocketDiag.Found(TcpSocketDiag.FIN_WAIT1, unacknowledged, 0);
  }

  /** Advances the clock to the next due check and runs it. */
  private void step() {
    long next = watch.poll();
    if (next >= 0) {
      now = Math.max(now, next);
      watch.poll();
    }
  }

  private void runUntilIdle() {
    for (long next; (next = watch.poll()) >= 0; ) now = Math.max(now, next);
  }

  private static FlowKey flow() {
    try {
      return new FlowKey(
          InetAddress.getByName("198.18.4.10"), 40000, InetAddress.getByName("198.18.0.100"), 80);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
