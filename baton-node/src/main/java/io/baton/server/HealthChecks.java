package io.baton.server;

import io.baton.config.HealthCheckConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's checks of its application: each runs every interval on one timer thread (a TCP
 * connect, or an HTTP GET that must answer 2xx or 3xx within the timeout) and turns unhealthy after
 * {@code fall} failures in a row, healthy again after {@code rise} successes. The node's load
 * reports carry {@link #status}: an unhealthy node gets no new connections.
 *
 * <p>Thread-safe: the checks run on the timer thread; {@link #status} reads a volatile snapshot.
 */
public final class HealthChecks implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HealthChecks.class);

  /** Healthy or not, and a short word on why. */
  public record Status(boolean healthy, String detail) {}

  private static final Status OK = new Status(true, "ok");
  private final List<Check> checks = new ArrayList<>();
  private final ScheduledExecutorService timer;
  private volatile Status status = OK;

  /** Starts {@code configs} (none: always healthy). The first round runs at once. */
  public static HealthChecks start(List<HealthCheckConfig> configs) {
    return new HealthChecks(configs);
  }

  private HealthChecks(List<HealthCheckConfig> configs) {
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-health");
              t.setDaemon(true);
              return t;
            });
    for (HealthCheckConfig c : configs) {
      Check check = new Check(c);
      checks.add(check);
      timer.scheduleWithFixedDelay(
          () -> {
            check.run();
            summarise();
          },
          0,
          c.interval().toMillis(),
          TimeUnit.MILLISECONDS);
      log.info(
          "health check {} every {} ms (timeout {} ms, fall {}, rise {})",
          c.describe(),
          c.interval().toMillis(),
          c.timeout().toMillis(),
          c.fall(),
          c.rise());
    }
  }

  public Status status() {
    return status;
  }

  private void summarise() {
    for (Check c : checks) {
      if (!c.healthy) {
        status = new Status(false, c.config.describe() + ": " + c.lastFailure);
        return;
      }
    }
    status = OK;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }

  /** One check and its run of results; confined to the timer thread. */
  private static final class Check {
    final HealthCheckConfig config;
    boolean healthy = true;
    int failures;
    int successes;
    String lastFailure = "";

    Check(HealthCheckConfig config) {
      this.config = config;
    }

    void run() {
      String failure = probe(config);
      if (failure == null) {
        failures = 0;
        if (!healthy && ++successes >= config.rise()) {
          healthy = true;
          log.info(
              "health check {} passes again: this node takes new connections", config.describe());
        }
      } else {
        successes = 0;
        lastFailure = failure;
        if (healthy && ++failures >= config.fall()) {
          healthy = false;
          log.warn(
              "health check {} failed {} times in a row ({}): this node takes no new connections",
              config.describe(),
              failures,
              failure);
        }
      }
    }
  }

  /** {@code null} if the application answered as it should, else what went wrong. */
  static String probe(HealthCheckConfig c) {
    int timeoutMs = (int) Math.max(1, c.timeout().toMillis());
    try (Socket s = new Socket()) {
      s.connect(c.target(), timeoutMs);
      if (c.kind() == HealthCheckConfig.Kind.TCP) return null;
      s.setSoTimeout(timeoutMs);
      String host = io.baton.linux.IpText.withPort(c.target().getAddress(), c.target().getPort());
      OutputStream out = s.getOutputStream();
      out.write(
          ("GET "
                  + c.path()
                  + " HTTP/1.1\r\nHost: "
                  + host
                  + "\r\nUser-Agent: baton-health\r\n"
                  + "Connection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String line = statusLine(s.getInputStream());
      String[] parts = line.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) return "not an HTTP answer";
      int code;
      try {
        code = Integer.parseInt(parts[1]);
      } catch (NumberFormatException e) {
        return "not an HTTP answer";
      }
      return code >= 200 && code < 400 ? null : "status " + code;
    } catch (SocketTimeoutException e) {
      return "no answer within " + timeoutMs + " ms";
    } catch (IOException e) {
      String m = e.getMessage();
      return m == null ? e.getClass().getSimpleName() : m.toLowerCase(java.util.Locale.ROOT);
    }
  }

  private static String statusLine(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 256; i++) {
      int c = in.read();
      if (c < 0 || c == '\n') break;
      if (c != '\r') b.append((char) c);
    }
    return b.toString();
  }
}
