package io.baton.log;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * One INFO or WARN call site that logs at most {@code linesPerSecond} lines per second, so that a
 * flood of connections (each worth a line when rare) cannot flood the log. Lines over the budget
 * are counted, and the first line of a later second is preceded by one "suppressed K" line.
 *
 * <p>Keep one instance per call site (a field next to the logger). Thread-safe: guarded by {@code
 * this}; the lock is held only to count, never while logging.
 */
public final class RateLimitedLog {
  private static final long WINDOW_NS = TimeUnit.SECONDS.toNanos(1);

  private final Logger log;
  private final String site;
  private final int linesPerSecond;
  private final LongSupplier nanoClock;
  private long windowStartNs;
  private boolean started;
  private int linesInWindow;
  private long suppressed;

  /**
   * @param site a short name of the call site, used in the "suppressed" line
   * @param nanoClock a monotonic clock in nanoseconds ({@code System::nanoTime} outside tests)
   */
  public RateLimitedLog(Logger log, String site, int linesPerSecond, LongSupplier nanoClock) {
    if (linesPerSecond < 1) {
      throw new IllegalArgumentException("linesPerSecond must be >= 1: " + linesPerSecond);
    }
    this.log = Objects.requireNonNull(log, "log");
    this.site = Objects.requireNonNull(site, "site");
    this.linesPerSecond = linesPerSecond;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
  }

  public RateLimitedLog(Logger log, String site, int linesPerSecond) {
    this(log, site, linesPerSecond, System::nanoTime);
  }

  /** Logs at INFO like {@link Logger#info(String, Object...)}, unless over this second's budget. */
  public void info(String format, Object... arguments) {
    if (!log.isInfoEnabled()) return;
    long dropped = admit();
    if (dropped < 0) return;
    if (dropped > 0) {
      log.info(
          "{}: suppressed {} similar lines (more than {} per second)",
          site,
          dropped,
          linesPerSecond);
    }
    log.info(format, arguments);
  }

  /** Logs at WARN like {@link Logger#warn(String, Object...)}, unless over this second's budget. */
  public void warn(String format, Object... arguments) {
    if (!log.isWarnEnabled()) return;
    long dropped = admit();
    if (dropped < 0) return;
    if (dropped > 0) {
      log.warn(
          "{}: suppressed {} similar lines (more than {} per second)",
          site,
          dropped,
          linesPerSecond);
    }
    log.warn(format, arguments);
  }

  /**
   * -1 if this line is over the budget (counted), else the lines suppressed since the last one
   * logged.
   */
  private synchronized long admit() {
    long now = nanoClock.getAsLong();
    if (!started || now - windowStartNs >= WINDOW_NS) {
      started = true;
      windowStartNs = now;
      linesInWindow = 0;
    }
    if (linesInWindow >= linesPerSecond) {
      suppressed++;
      return -1;
    }
    linesInWindow++;
    long dropped = suppressed;
    suppressed = 0;
    return dropped;
  }

  /** Lines counted but not logged since the last "suppressed" line; for tests. */
  synchronized long suppressed() {
    return suppressed;
  }
}
