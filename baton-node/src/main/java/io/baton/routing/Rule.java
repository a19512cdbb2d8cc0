package io.baton.routing;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One routing rule of a VIP: a set of conditions and the pool that gets the connection when all of
 * them hold. A rule without conditions matches every connection.
 *
 * <p>Conditions (each optional, all must hold):
 *
 * <ul>
 *   <li>{@code host}: exact or wildcard ({@link HostPattern}) on the request's host;
 *   <li>{@code pathPrefix}: a prefix of the path that ends at a segment boundary: {@code /api}
 *       matches {@code /api}, {@code /api/} and {@code /api/v1} but not {@code /apis}; a prefix
 *       ending in {@code /} matches anything below it. Paths are raw (not decoded, not normalised),
 *       so path rules steer traffic but are no access control;
 *   <li>{@code headerName} alone: the header is present; with {@code headerValue}: some field of
 *       that name (name case-insensitive) has exactly that value (case-sensitive, whole value);
 *   <li>{@code sni}: exact or wildcard on the TLS server name;
 *   <li>{@code method}: the request method is exactly this token (case-sensitive, RFC 9110 §9.1).
 * </ul>
 *
 * A condition on something a connection does not carry never holds: method, host, path and header
 * rules never match TLS or L4 connections, SNI rules never match plain HTTP. A rule mixing SNI with
 * HTTP conditions could never match and is refused.
 *
 * <p>Immutable and thread-safe.
 */
public record Rule(
    String name,
    Optional<String> host,
    Optional<String> pathPrefix,
    Optional<String> headerName,
    Optional<String> headerValue,
    Optional<String> sni,
    Optional<String> method,
    String pool) {

  public Rule {
    requireText(name, "rule name");
    requireText(pool, "pool of rule '" + name + "'");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(pathPrefix, "pathPrefix");
    Objects.requireNonNull(headerName, "headerName");
    Objects.requireNonNull(headerValue, "headerValue");
    Objects.requireNonNull(sni, "sni");
    Objects.requireNonNull(method, "method");
    try {
      host = host.map(h -> new HostPattern(h).pattern());
      sni = sni.map(s -> new HostPattern(s).pattern());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("rule '" + name + "': " + e.getMessage(), e);
    }
    boolean httpConditions =
        host.isPresent() || pathPrefix.isPresent() || headerName.isPresent() || method.isPresent();
    if (sni.isPresent() && httpConditions) {
      throw new IllegalArgumentException(
          "rule '"
              + name
              + "' could never match: SNI is only seen"
              + " on TLS connections, method, host, path and headers only on plain HTTP; split it in"
              + " two");
    }
    if (sni.isPresent() && sni.get().startsWith("[")) {
      throw new IllegalArgumentException(
          "rule '" + name + "': SNI pattern '" + sni.get() + "' must be a DNS name");
    }
    if (pathPrefix.isPresent() && !pathPrefix.get().startsWith("/")) {
      throw new IllegalArgumentException(
          "rule '" + name + "': path prefix '" + pathPrefix.get() + "' must start with /");
    }
    if (headerValue.isPresent() && headerName.isEmpty()) {
      throw new IllegalArgumentException("rule '" + name + "': header value without header name");
    }
    if (headerName.isPresent() && !isToken(headerName.get())) {
      throw new IllegalArgumentException(
          "rule '" + name + "': invalid header name '" + headerName.get() + "'");
    }
    if (method.isPresent() && !isToken(method.get())) {
      throw new IllegalArgumentException(
          "rule '" + name + "': invalid method '" + method.get() + "'");
    }
  }

  /** Starts a rule: {@code Rule.named("api").host("*.example.com").toPool("api")}. */
  public static Builder named(String name) {
    return new Builder(name);
  }

  /** True if the rule has no conditions and so matches every connection. */
  public boolean isUnconditional() {
    return host.isEmpty()
        && pathPrefix.isEmpty()
        && headerName.isEmpty()
        && sni.isEmpty()
        && method.isEmpty();
  }

  /** True if the rule looks only at things an HTTP request head carries. */
  boolean needsHttp() {
    return host.isPresent()
        || pathPrefix.isPresent()
        || headerName.isPresent()
        || method.isPresent();
  }

  /** Segment-aware prefix match, see the class comment. */
  static boolean pathMatches(String prefix, String path) {
    if (!path.startsWith(prefix)) return false;
    return path.length() == prefix.length()
        || prefix.endsWith("/")
        || path.charAt(prefix.length()) == '/';
  }

  @Override
  public String toString() {
    List<String> conditions = new ArrayList<>();
    method.ifPresent(m -> conditions.add("method=" + m));
    host.ifPresent(h -> conditions.add("host=" + h));
    pathPrefix.ifPresent(p -> conditions.add("path=" + p + "*"));
    headerName.ifPresent(
        h -> conditions.add("header " + h + headerValue.map(v -> "=" + v).orElse(" present")));
    sni.ifPresent(s -> conditions.add("sni=" + s));
    return "rule '" + name + "' " + (conditions.isEmpty() ? "(any)" : conditions) + " -> " + pool;
  }

  private static void requireText(String s, String what) {
    Objects.requireNonNull(s, what);
    if (s.isBlank()) throw new IllegalArgumentException(what + " must not be blank");
  }

  private static boolean isToken(String s) {
    if (s.isEmpty()) return false;
    for (int i = 0; i < s.length(); i++) {
      if (!HttpSyntax.isTokenChar(s.charAt(i))) return false;
    }
    return true;
  }

  /** Fluent construction from plain strings; confined to the building thread. */
  public static final class Builder {
    private final String name;
    private Optional<String> host = Optional.empty();
    private Optional<String> pathPrefix = Optional.empty();
    private Optional<String> headerName = Optional.empty();
    private Optional<String> headerValue = Optional.empty();
    private Optional<String> sni = Optional.empty();
    private Optional<String> method = Optional.empty();

    private Builder(String name) {
      this.name = name;
    }

    public Builder host(String pattern) {
      host = Optional.of(pattern);
      return this;
    }

    public Builder pathPrefix(String prefix) {
      pathPrefix = Optional.of(prefix);
      return this;
    }

    /** Condition: the header is present, with any value. */
    public Builder header(String headerName) {
      this.headerName = Optional.of(headerName);
      this.headerValue = Optional.empty();
      return this;
    }

    /** Condition: some field named {@code headerName} has exactly {@code value}. */
    public Builder header(String headerName, String value) {
      this.headerName = Optional.of(headerName);
      this.headerValue = Optional.of(value);
      return this;
    }

    public Builder sni(String pattern) {
      sni = Optional.of(pattern);
      return this;
    }

    /** Condition: the request method is exactly {@code method}, e.g. {@code POST}. */
    public Builder method(String method) {
      this.method = Optional.of(method);
      return this;
    }

    public Rule toPool(String pool) {
      return new Rule(name, host, pathPrefix, headerName, headerValue, sni, method, pool);
    }
  }
}
