package io.baton.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * How a server agent checks its application ({@code server.health-check}). The result travels in
 * the node's load reports: a failing node gets no new connections. Immutable.
 *
 * @param kind a TCP connect, or an HTTP GET that must answer 2xx or 3xx
 * @param target the application's address
 * @param path the HTTP request's path ({@code /} for TCP checks, unused)
 * @param interval time between checks
 * @param timeout a check that takes longer fails
 * @param fall consecutive failures that make the node unhealthy
 * @param rise consecutive successes that make it healthy again
 */
public record HealthCheckConfig(
    Kind kind,
    InetSocketAddress target,
    String path,
    Duration interval,
    Duration timeout,
    int fall,
    int rise) {
  public static final Duration DEFAULT_INTERVAL = Duration.ofMillis(250);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(200);
  public static final int DEFAULT_FALL = 2;
  public static final int DEFAULT_RISE = 2;

  /** What a check does. */
  public enum Kind {
    TCP,
    HTTP
  }

  public HealthCheckConfig {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(timeout, "timeout");
    if (fall < 1 || rise < 1) throw new IllegalArgumentException("fall and rise must be >= 1");
  }

  /** The default check of a relay delivery: a TCP connect to its application. */
  public static HealthCheckConfig tcp(InetSocketAddress target) {
    return new HealthCheckConfig(
        Kind.TCP, target, "/", DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_FALL, DEFAULT_RISE);
  }

  /** {@code tcp 127.0.0.1:8080} or {@code http 127.0.0.1:8080/healthz}, for logs and reports. */
  public String describe() {
    String address = target.getAddress().getHostAddress() + ":" + target.getPort();
    return kind == Kind.TCP ? "tcp " + address : "http " + address + path;
  }
}
