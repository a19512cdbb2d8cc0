package io.baton.routing;

import java.util.Locale;
import java.util.Objects;

/**
 * A host condition of a {@link Rule}: an exact name ({@code api.example.com}) or a wildcard ({@code
 * *.example.com}) that matches any name with at least one more label in front ({@code
 * a.example.com}, {@code a.b.example.com}) but not {@code example.com} itself, as in nginx and
 * Envoy. Matching ignores case.
 *
 * <p>Immutable and thread-safe.
 *
 * @param pattern the pattern, lowercased
 */
public record HostPattern(String pattern) {
  public HostPattern {
    Objects.requireNonNull(pattern, "pattern");
    pattern = pattern.toLowerCase(Locale.ROOT);
    boolean wildcard = pattern.startsWith("*.");
    String name = wildcard ? pattern.substring(2) : pattern;
    boolean valid = HostSyntax.isDnsName(name) || (!wildcard && isIpv6(name));
    if (!valid) {
      throw new IllegalArgumentException(
          "invalid host pattern '"
              + pattern
              + "': expected a name like api.example.com"
              + " or a wildcard like *.example.com");
    }
  }

  public boolean isWildcard() {
    return pattern.startsWith("*.");
  }

  /** Whether {@code host} (already lowercased, as RequestHead and the parsers give it) matches. */
  public boolean matches(String host) {
    if (!isWildcard()) return pattern.equals(host);
    int suffixLength = pattern.length() - 1; // ".example.com"
    return host.length() > suffixLength
        && host.regionMatches(host.length() - suffixLength, pattern, 1, suffixLength);
  }

  private static boolean isIpv6(String name) {
    return name.startsWith("[") && HostSyntax.hostOfAuthority(name) != null;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
