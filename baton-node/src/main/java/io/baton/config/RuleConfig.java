package io.baton.config;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A routing rule of a VIP: when all of its conditions hold for a new connection, the connection
 * goes to {@link #pool()}. Rules are tried in file order; the first match wins, and a connection
 * that matches none goes to the VIP's default pool. Immutable.
 *
 * <p>http VIPs use {@link Method}, {@link Host}, {@link PathPrefix} and {@link Header}; tls VIPs
 * use {@link Sni}; l4 VIPs have no rules.
 *
 * @param name unique within its VIP; names the rule in logs and metrics
 * @param conditions at least one, all of which must hold
 * @param pool name of an existing pool
 */
public record RuleConfig(String name, List<Condition> conditions, String pool) {
  public RuleConfig {
    Objects.requireNonNull(name, "name");
    conditions = List.copyOf(conditions);
    if (conditions.isEmpty()) {
      throw new IllegalArgumentException("rule " + name + " needs at least one condition");
    }
    Objects.requireNonNull(pool, "pool");
  }

  /** One test on the first request of a connection. */
  public sealed interface Condition permits Method, Host, PathPrefix, Header, Sni {}

  /** The request method is exactly {@code method} (case-sensitive, e.g. {@code POST}). */
  public record Method(String method) implements Condition {}

  /**
   * The HTTP Host (without port) is {@code pattern}, case-insensitively; {@code *.example.com}
   * matches any name ending in {@code .example.com}.
   */
  public record Host(String pattern) implements Condition {
    public Host {
      pattern = pattern.toLowerCase(Locale.ROOT);
    }

    public boolean matches(String host) {
      return matchesHostPattern(pattern, host);
    }
  }

  /** The request path starts with {@code prefix} (case-sensitive; always starts with /). */
  public record PathPrefix(String prefix) implements Condition {
    public boolean matches(String path) {
      return path.startsWith(prefix);
    }
  }

  /** The request has header {@code name} (case-insensitive) with exactly {@code value}. */
  public record Header(String name, String value) implements Condition {}

  /** The TLS ClientHello's server name matches {@code pattern}, as for {@link Host}. */
  public record Sni(String pattern) implements Condition {
    public Sni {
      pattern = pattern.toLowerCase(Locale.ROOT);
    }

    public boolean matches(String serverName) {
      return matchesHostPattern(pattern, serverName);
    }
  }

  private static boolean matchesHostPattern(String pattern, String name) {
    String host = name.toLowerCase(Locale.ROOT);
    if (pattern.startsWith("*.")) {
      return host.endsWith(pattern.substring(1)) && host.length() > pattern.length() - 1;
    }
    return host.equals(pattern);
  }
}
