package io.baton.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The duration syntax of Baton's config: a whole number and one unit, {@code 500ms}, {@code 5s},
 * {@code 2m} or {@code 1h}. Deliberately small: no fractions, no compound {@code 1m30s}.
 *
 * <p>Stateless.
 */
public final class Durations {
  private static final Pattern SYNTAX = Pattern.compile("([0-9]{1,9})(ms|s|m|h)");

  private Durations() {}

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException with a message fit for people if it is not a duration
   */
  public static Duration parse(String text) {
    Matcher matcher = SYNTAX.matcher(text.strip());
    if (!matcher.matches()) {
      throw new IllegalArgumentException(
          "must be a duration such as 500ms, 5s, 2m or 1h, got '" + text + "'");
    }
    long amount = Long.parseLong(matcher.group(1));
    return switch (matcher.group(2)) {
      case "ms" -> Duration.ofMillis(amount);
      case "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      default -> throw new AssertionError(matcher.group(2));
    };
  }

  /** The shortest exact spelling in the config syntax: {@code 1500ms}, {@code 2s}, {@code 1h}. */
  public static String format(Duration duration) {
    long millis = duration.toMillis();
    if (millis % 3_600_000 == 0 && millis > 0) {
      return millis / 3_600_000 + "h";
    }
    if (millis % 60_000 == 0 && millis > 0) {
      return millis / 60_000 + "m";
    }
    if (millis % 1000 == 0) {
      return millis / 1000 + "s";
    }
    return millis + "ms";
  }
}
