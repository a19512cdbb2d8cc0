package io.baton.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Lets an appender of logback.xml write only when it is the chosen log format ({@code
 * BATON_LOG_FORMAT}: text, the default, or json). Both appenders stay referenced, so logback has
 * nothing to warn about (a warning would make it print its status on standard output, into the
 * command's own output).
 */
public final class LogFormatFilter extends Filter<ILoggingEvent> {
  private String format = "text";
  private boolean chosen;

  /** The format this filter's appender writes ({@code <format>} in logback.xml). */
  public void setFormat(String format) {
    this.format = format;
  }

  @Override
  public void start() {
    String wanted = System.getenv("BATON_LOG_FORMAT");
    chosen = format.equals(wanted == null || wanted.isEmpty() ? "text" : wanted);
    super.start();
  }

  @Override
  public FilterReply decide(ILoggingEvent event) {
    return chosen ? FilterReply.NEUTRAL : FilterReply.DENY;
  }
}
