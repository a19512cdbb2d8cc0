package io.baton.config;

/**
 * A node configuration that Baton refuses: unreadable, not YAML, of the wrong shape, or
 * inconsistent. The message is one line for people, in the compiler style {@code FILE:LINE:COLUMN:
 * FIELD.PATH: reason}, e.g. {@code dispatcher.yaml:14:9: pools.web.members[1].weight: must be
 * 0..1000, got -2}. Line and column are 1-based; both are 0 when the problem has no place in the
 * file (it cannot be read at all), and the message is then {@code FILE: reason}.
 *
 * <p>Immutable.
 */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final int line;
  private final int column;
  private final String field;
  private final String reason;

  /** A problem at a place in the file. */
  ConfigException(String source, int line, int column, String field, String reason) {
    super(format(source, line, column, field, reason));
    this.source = source;
    this.line = line;
    this.column = column;
    this.field = field;
    this.reason = reason;
  }

  /** A problem with the file as a whole, e.g. it cannot be read. */
  ConfigException(String source, String reason, Throwable cause) {
    super(source + ": " + reason, cause);
    this.source = source;
    this.line = 0;
    this.column = 0;
    this.field = "";
    this.reason = reason;
  }

  private static String format(String source, int line, int column, String field, String reason) {
    return source + ":" + line + ":" + column + ": " + field + ": " + reason;
  }

  /** The file name as the caller gave it, e.g. {@code /etc/baton/node.yaml}. */
  public String source() {
    return source;
  }

  /** 1-based line of the offending value or key, 0 when the file could not be read. */
  public int line() {
    return line;
  }

  /** 1-based column of the offending value or key, 0 when the file could not be read. */
  public int column() {
    return column;
  }

  /** Dotted path of the offending field, e.g. {@code vips[0].rules[2].pool}; empty if none. */
  public String field() {
    return field;
  }

  /** Why the value was refused, without file or field. */
  public String reason() {
    return reason;
  }
}
