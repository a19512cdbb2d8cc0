package io.baton.config;

import java.util.regex.Pattern;

/**
 * The spellings the config accepts for names, and how messages describe them. Names end up in
 * dotted field paths, metric labels and log lines, so they are kept plain.
 *
 * <p>Constants only.
 */
final class Names {
  /** Node names: may contain dots, like host names. */
  static final Pattern NODE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  static final String NODE_TEXT = "a node name (letters, digits, '.', '_', '-'; at most 63)";

  /** Pool, rule and embedded application names: no dots, since they appear in field paths. */
  static final Pattern SIMPLE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

  static final String SIMPLE_TEXT = "a name of letters, digits, '_' and '-' (at most 63)";

  /** Linux interface names: at most 15 bytes, no '/', ':' or white space. */
  static final Pattern DEVICE = Pattern.compile("[A-Za-z0-9_.-]{1,15}");

  static final String DEVICE_TEXT = "a network device name such as eth1 (at most 15 characters)";

  /** Host names and {@code *.}-wildcards for host and sni rules. */
  static final Pattern HOST_PATTERN =
      Pattern.compile(
          "(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
              + "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");

  static final String HOST_PATTERN_TEXT = "a host name such as api.example.com or *.example.com";

  /**
   * HTTP methods as registered (RFC 9110 §9): capital letters, words joined by '-'. Methods are
   * case-sensitive, so {@code get} is refused rather than never matching.
   */
  static final Pattern METHOD = Pattern.compile("[A-Z]+(-[A-Z]+)*");

  static final String METHOD_TEXT = "an HTTP method in capitals such as GET or POST";

  /** RFC 9110 token characters, for header names. */
  static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

  private Names() {}
}
