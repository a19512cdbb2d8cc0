package io.baton.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A YAML document as a tree that remembers where each value and key stood in the file, so that
 * every refusal can name its line and column. Built by {@link YamlTreeReader}; read through {@link
 * ConfigField}.
 *
 * <p>Immutable.
 */
sealed interface YamlNode permits YamlNode.Mapping, YamlNode.Sequence, YamlNode.Scalar {

  /** 1-based line and column of the first character of a key or value. */
  record Position(int line, int column) {}

  Position position();

  /** A YAML mapping, keys in file order. */
  record Mapping(Position position, Map<String, Entry> entries) implements YamlNode {
    public Mapping {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }
  }

  /** One key of a mapping with the key's own position. */
  record Entry(String key, Position keyPosition, YamlNode value) {}

  /** A YAML sequence (block list or flow {@code [a, b]}). */
  record Sequence(Position position, List<YamlNode> elements) implements YamlNode {
    public Sequence {
      elements = List.copyOf(elements);
    }
  }

  /** What the YAML parser made of a scalar: quoted scalars are always strings. */
  enum Kind {
    STRING,
    INTEGER,
    FLOAT,
    BOOLEAN,
    NULL
  }

  /** A scalar with its text exactly as written (without quotes). */
  record Scalar(Position position, Kind kind, String text) implements YamlNode {}
}
