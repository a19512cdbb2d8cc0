package io.baton.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** At most N lines per second per call site, then one "suppressed K" line. Fake clock. */
class RateLimitedLogTest {
  private final AtomicLong nowNs = new AtomicLong(1_000_000_000L);
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private RateLimitedLog limited;

  @BeforeEach
  void captureLogger() {
    var logger =
        (ch.qos.logback.classic.Logger)
            LoggerFactory.getLogger("test.RateLimitedLogTest." + System.identityHashCode(this));
    logger.setLevel(Level.INFO);
    logger.setAdditive(false);
    appender.start();
    logger.addAppender(appender);
    limited = new RateLimitedLog(logger, "refusals", 3, nowNs::get);
  }

  @Test
  void linesOverTheBudgetAreCountedAndReportedInTheNextSecond() {
    for (int i = 0; i < 10; i++) limited.info("line {}", i);

    assertThat(lines()).containsExactly("line 0", "line 1", "line 2");
    assertThat(limited.suppressed()).isEqualTo(7);

    advanceMs(999);
    limited.info("line {}", 10);
    assertThat(lines()).as("still the same second").hasSize(3);

    advanceMs(1);
    limited.info("line {}", 11);
    assertThat(lines())
        .containsExactly(
            "line 0",
            "line 1",
            "line 2",
            "refusals: suppressed 8 similar lines (more than 3 per second)",
            "line 11");
    assertThat(limited.suppressed()).isZero();
  }

  @Test
  void aQuietCallSiteLogsEveryLine() {
    for (int i = 0; i < 6; i++) {
      limited.info("line {}", i);
      advanceMs(400);
    }
    assertThat(lines()).hasSize(6).noneMatch(l -> l.contains("suppressed"));
  }

  private void advanceMs(long ms) {
    nowNs.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
  }

  private List<String> lines() {
    return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }
}
