package io.baton.cli.bench;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One response size of the benchmark: a file of exactly {@code bytes} random bytes, served as
 * {@code /<token>.bin} by every system. Immutable.
 *
 * @param token the command-line spelling and file stem, e.g. {@code 16k}
 * @param bytes the file's size
 */
record ResponseSize(String token, int bytes) implements Comparable<ResponseSize> {
  private static final Pattern SPEC = Pattern.compile("(\\d+)([km]?)");
  static final int MAX_BYTES = 64 << 20;

  /** {@code 1k}, {@code 16k}, {@code 256k}, {@code 1m}, or a plain byte count. */
  static ResponseSize parse(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    Matcher m = SPEC.matcher(t);
    if (!m.matches())
      throw new IllegalArgumentException(
          "size '" + text + "' must look like 1k, 16k, 256k, 1m or 512");
    long n = Long.parseLong(m.group(1));
    long bytes =
        switch (m.group(2)) {
          case "k" -> n << 10;
          case "m" -> n << 20;
          default -> n;
        };
    if (bytes < 1 || bytes > MAX_BYTES)
      throw new IllegalArgumentException("size '" + text + "' must be 1 byte .. 64m");
    return new ResponseSize(t, (int) bytes);
  }

  /** The URL path of the file of this size. */
  String path() {
    return "/" + token + ".bin";
  }

  /** "1 KiB", "256 KiB", "1 MiB", "512 B". */
  String label() {
    if (bytes % (1 << 20) == 0) return (bytes >> 20) + " MiB";
    if (bytes % (1 << 10) == 0) return (bytes >> 10) + " KiB";
    return bytes + " B";
  }

  @Override
  public int compareTo(ResponseSize other) {
    return Integer.compare(bytes, other.bytes);
  }

  @Override
  public String toString() {
    return label();
  }
}
