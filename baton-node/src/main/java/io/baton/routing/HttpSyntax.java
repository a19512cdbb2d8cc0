package io.baton.routing;

/**
 * Character classes of RFC 9110/9112 needed to read a request head.
 *
 * <p>Stateless; thread-safe.
 */
final class HttpSyntax {
  private static final boolean[] TOKEN = new boolean[128];

  static {
    for (char c = '0'; c <= '9'; c++) TOKEN[c] = true;
    for (char c = 'a'; c <= 'z'; c++) TOKEN[c] = true;
    for (char c = 'A'; c <= 'Z'; c++) TOKEN[c] = true;
    for (char c : "!#$%&'*+-.^_`|~".toCharArray()) TOKEN[c] = true;
  }

  private HttpSyntax() {}

  /** tchar of RFC 9110 §5.6.2, the characters of methods and field names. */
  static boolean isTokenChar(int b) {
    return b >= 0 && b < 128 && TOKEN[b];
  }

  /**
   * Control characters, never allowed anywhere in a head except HTAB (whitespace) and CR LF (line
   * ends, checked separately).
   */
  static boolean isForbiddenControl(int b) {
    return (b >= 0 && b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0x7f;
  }

  /**
   * Characters Baton accepts in a request target: visible ASCII except {@code #} (a fragment is
   * never sent). Stricter RFC 3986 checks are left to the server, as they don't change routing.
   */
  static boolean isTargetChar(int b) {
    return b > 0x20 && b < 0x7f && b != '#';
  }
}
