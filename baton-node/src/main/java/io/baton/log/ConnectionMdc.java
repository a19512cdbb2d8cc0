package io.baton.log;

import org.slf4j.MDC;

/**
 * Puts a connection's identity into the logging context (SLF4J's MDC) for the lines logged while
 * its work runs on this thread: {@code flow} (client ip:port -> VIP ip:port) and, once it has one,
 * {@code handoff} (the handoff id). The JSON log format ({@code BATON_LOG_FORMAT=json}) carries
 * them as fields of every such line, for log shippers. Scopes nest: closing one restores what the
 * thread had before. Thread-confined, like the MDC.
 */
public final class ConnectionMdc implements AutoCloseable {
  public static final String FLOW = "flow";
  public static final String HANDOFF = "handoff";

  private final String previousFlow;
  private final String previousHandoff;

  private ConnectionMdc(String previousFlow, String previousHandoff) {
    this.previousFlow = previousFlow;
    this.previousHandoff = previousHandoff;
  }

  /** Enters {@code flow}'s scope; {@code handoffId} 0 means none yet. */
  public static ConnectionMdc enter(Object flow, long handoffId) {
    ConnectionMdc scope = new ConnectionMdc(MDC.get(FLOW), MDC.get(HANDOFF));
    MDC.put(FLOW, String.valueOf(flow));
    handoff(handoffId);
    return scope;
  }

  /** The handoff id learned inside the scope (0: none). */
  public static void handoff(long handoffId) {
    if (handoffId == 0) {
      MDC.remove(HANDOFF);
    } else {
      MDC.put(HANDOFF, Long.toString(handoffId));
    }
  }

  @Override
  public void close() {
    restore(FLOW, previousFlow);
    restore(HANDOFF, previousHandoff);
  }

  private static void restore(String key, String value) {
    if (value == null) {
      MDC.remove(key);
    } else {
      MDC.put(key, value);
    }
  }
}
