package io.baton.routing;

import java.util.Locale;

/**
 * Syntax of the host names Baton routes on: Host headers and URI authorities, TLS server names and
 * the patterns of {@link Rule}s. Deliberately narrower than RFC 3986's reg-name: labels of ASCII
 * letters, digits, {@code -} and {@code _}, 1..63 characters each, 253 in all, or an IPv6 literal
 * in brackets. Anything else (percent-encoding, sub-delims, non-ASCII) is refused, so a name Baton
 * routes on cannot be read differently by the server.
 *
 * <p>Stateless; thread-safe.
 */
final class HostSyntax {
  static final int MAX_NAME_LENGTH = 253;
  static final int MAX_LABEL_LENGTH = 63;

  private HostSyntax() {}

  /**
   * Normalises a URI authority or Host header value ({@code Example.COM:8080}, {@code [::1]:80}) to
   * the host alone, lowercased, one trailing dot removed. Returns {@code ""} for an empty value and
   * {@code null} if the value is not a valid authority.
   */
  static String hostOfAuthority(String authority) {
    if (authority.isEmpty()) return "";
    String host;
    String port;
    if (authority.charAt(0) == '[') {
      int close = authority.indexOf(']');
      if (close < 0) return null;
      host = authority.substring(0, close + 1);
      String rest = authority.substring(close + 1);
      if (!rest.isEmpty() && rest.charAt(0) != ':') return null;
      port = rest.isEmpty() ? "" : rest.substring(1);
      if (!isIpv6Literal(host)) return null;
    } else {
      int colon = authority.indexOf(':');
      host = colon < 0 ? authority : authority.substring(0, colon);
      port = colon < 0 ? "" : authority.substring(colon + 1);
      if (host.endsWith(".")) host = host.substring(0, host.length() - 1);
      if (!isDnsName(host)) return null;
    }
    if (!isPort(port)) return null;
    return host.toLowerCase(Locale.ROOT);
  }

  /** A dot-separated host name (which includes dotted IPv4 addresses), no trailing dot. */
  static boolean isDnsName(String name) {
    int length = name.length();
    if (length == 0 || length > MAX_NAME_LENGTH) return false;
    int labelLength = 0;
    for (int i = 0; i < length; i++) {
      char c = name.charAt(i);
      if (c == '.') {
        if (labelLength == 0) return false;
        labelLength = 0;
      } else if (isLabelChar(c)) {
        if (++labelLength > MAX_LABEL_LENGTH) return false;
      } else {
        return false;
      }
    }
    return labelLength > 0;
  }

  /** True if the last label is all digits: a dotted IPv4 address, never a DNS name. */
  static boolean looksNumeric(String name) {
    int lastDot = name.lastIndexOf('.');
    for (int i = lastDot + 1; i < name.length(); i++) {
      if (name.charAt(i) < '0' || name.charAt(i) > '9') return false;
    }
    return lastDot + 1 < name.length();
  }

  private static boolean isLabelChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '-'
        || c == '_';
  }

  private static boolean isIpv6Literal(String bracketed) {
    if (bracketed.length() < 4) return false; // "[::]" is the shortest
    for (int i = 1; i < bracketed.length() - 1; i++) {
      char c = bracketed.charAt(i);
      boolean ok =
          (c >= '0' && c <= '9')
              || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')
              || c == ':'
              || c == '.';
      if (!ok) return false;
    }
    return bracketed.indexOf(':') > 0;
  }

  private static boolean isPort(String port) {
    if (port.length() > 5) return false;
    for (int i = 0; i < port.length(); i++) {
      if (port.charAt(i) < '0' || port.charAt(i) > '9') return false;
    }
    return port.isEmpty() || Integer.parseInt(port) <= 65535;
  }
}
