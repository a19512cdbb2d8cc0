package io.baton.routing;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The header fields of a request head: an ordered multimap whose look-ups ignore the case of field
 * names (names keep the spelling they arrived with). Values are decoded as ISO-8859-1, so every
 * byte of the head survives as one {@code char}.
 *
 * <p>Immutable and thread-safe.
 */
public final class HeaderFields {
  /** One header line, name as received and value with surrounding whitespace removed. */
  public record Field(String name, String value) {
    public Field {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value");
    }
  }

  private static final HeaderFields EMPTY = new HeaderFields(List.of());

  private final List<Field> fields;
  private final Map<String, List<String>> valuesByLowerName;

  private HeaderFields(List<Field> fields) {
    this.fields = List.copyOf(fields);
    Map<String, List<String>> byName = new HashMap<>();
    for (Field f : this.fields) {
      byName.computeIfAbsent(lower(f.name()), k -> new ArrayList<>(1)).add(f.value());
    }
    byName.replaceAll((k, v) -> Collections.unmodifiableList(v));
    this.valuesByLowerName = byName;
  }

  public static HeaderFields of(List<Field> fields) {
    return fields.isEmpty() ? EMPTY : new HeaderFields(fields);
  }

  /** For tests and config: {@code of("Host", "a", "Accept", "*}{@code /*")}. */
  public static HeaderFields of(String... namesAndValues) {
    if (namesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("names and values must come in pairs");
    }
    List<Field> list = new ArrayList<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      list.add(new Field(namesAndValues[i], namesAndValues[i + 1]));
    }
    return of(list);
  }

  /** All fields in the order they arrived. */
  public List<Field> asList() {
    return fields;
  }

  public int size() {
    return fields.size();
  }

  public boolean contains(String name) {
    return valuesByLowerName.containsKey(lower(name));
  }

  /** The first value of {@code name}, if the field is present. */
  public Optional<String> first(String name) {
    List<String> values = valuesByLowerName.get(lower(name));
    return values == null ? Optional.empty() : Optional.of(values.getFirst());
  }

  /** Every value of {@code name} in arrival order; empty if absent. */
  public List<String> all(String name) {
    return valuesByLowerName.getOrDefault(lower(name), List.of());
  }

  /**
   * The comma-separated list elements of every {@code name} field, trimmed and lowercased, empty
   * elements dropped (RFC 9110 §5.6.1): {@code Connection: keep-alive, Upgrade} gives {@code
   * [keep-alive, upgrade]}.
   */
  public List<String> tokens(String name) {
    List<String> out = new ArrayList<>();
    for (String value : all(name)) {
      for (String element : value.split(",")) {
        String token = element.strip();
        if (!token.isEmpty()) out.add(lower(token));
      }
    }
    return out;
  }

  private static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HeaderFields other && fields.equals(other.fields);
  }

  @Override
  public int hashCode() {
    return fields.hashCode();
  }

  @Override
  public String toString() {
    return fields.toString();
  }
}
