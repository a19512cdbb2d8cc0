package io.baton.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.baton.config.YamlNode.Entry;
import io.baton.config.YamlNode.Kind;
import io.baton.config.YamlNode.Mapping;
import io.baton.config.YamlNode.Position;
import io.baton.config.YamlNode.Scalar;
import io.baton.config.YamlNode.Sequence;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads one YAML document into a {@link YamlNode} tree, keeping the position of every key and
 * value. Jackson's streaming YAML parser supplies the tokens and their locations; this class adds
 * what a config needs beyond plain YAML: duplicate keys and aliases are refused (both silently
 * change meaning otherwise), and so is a second document in the same file.
 *
 * <p>An empty document (or one with only comments) reads as an empty mapping.
 *
 * <p>Each instance reads one document on the calling thread; {@link #read} makes a new one.
 */
final class YamlTreeReader {
  /**
   * Thread-safe; parsers made from it are not. Made with the constructor, which reads an empty
   * value ({@code key:}) as null, not as an empty string like the builder's default.
   */
  private static final YAMLFactory FACTORY = new YAMLFactory();

  private static final String ROOT = "(document)";

  private final String source;
  private final JsonParser parser;

  /** The container being read, for syntax errors that the parser reports mid-way. */
  private String currentPath = ROOT;

  private YamlTreeReader(String source, JsonParser parser) {
    this.source = source;
    this.parser = parser;
  }

  /** Parses {@code yaml}; {@code source} names the file in error messages. */
  static YamlNode read(String yaml, String source) throws ConfigException {
    try (JsonParser parser = FACTORY.createParser(yaml)) {
      return new YamlTreeReader(source, parser).document();
    } catch (IOException e) {
      throw new ConfigException(source, "cannot parse: " + e.getMessage(), e);
    }
  }

  private YamlNode document() throws ConfigException, IOException {
    try {
      JsonToken first = parser.nextToken();
      if (first == null) {
        return new Mapping(new Position(1, 1), Map.of());
      }
      YamlNode root = value("");
      if (parser.nextToken() != null) {
        throw error(position(), ROOT, "a config file holds one YAML document, found a second");
      }
      return root;
    } catch (JsonProcessingException e) {
      throw syntaxError(e);
    }
  }

  /** Reads the value at the current token; {@code path} is its dotted path ("" for the root). */
  private YamlNode value(String path) throws ConfigException, IOException {
    Position at = position();
    if (parser instanceof YAMLParser yaml && yaml.isCurrentAlias()) {
      throw error(
          at,
          display(path),
          "YAML aliases (*" + parser.getText() + ") are not supported;" + " write the value out");
    }
    JsonToken token = parser.currentToken();
    return switch (token) {
      case START_OBJECT -> mapping(path, at);
      case START_ARRAY -> sequence(path, at);
      case VALUE_STRING -> new Scalar(at, Kind.STRING, parser.getText());
      case VALUE_NUMBER_INT -> new Scalar(at, Kind.INTEGER, parser.getText());
      case VALUE_NUMBER_FLOAT -> new Scalar(at, Kind.FLOAT, parser.getText());
      case VALUE_TRUE, VALUE_FALSE -> new Scalar(at, Kind.BOOLEAN, parser.getText());
      case VALUE_NULL -> new Scalar(at, Kind.NULL, parser.getText());
      default ->
          throw error(at, display(path), "unsupported YAML value (" + parser.getText() + ")");
    };
  }

  private Mapping mapping(String path, Position at) throws ConfigException, IOException {
    Map<String, Entry> entries = new LinkedHashMap<>();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String key = parser.currentName();
      Position keyAt = position();
      String childPath = path.isEmpty() ? key : path + "." + key;
      if (entries.containsKey(key)) {
        Position first = entries.get(key).keyPosition();
        throw error(keyAt, childPath, "duplicate key (first at line " + first.line() + ")");
      }
      parser.nextToken();
      currentPath = display(path);
      entries.put(key, new Entry(key, keyAt, value(childPath)));
      currentPath = display(path);
    }
    return new Mapping(at, entries);
  }

  private Sequence sequence(String path, Position at) throws ConfigException, IOException {
    List<YamlNode> elements = new ArrayList<>();
    currentPath = display(path);
    while (parser.nextToken() != JsonToken.END_ARRAY) {
      elements.add(value(path + "[" + elements.size() + "]"));
      currentPath = display(path);
    }
    return new Sequence(at, elements);
  }

  private Position position() {
    JsonLocation location = parser.currentTokenLocation();
    return new Position(Math.max(1, location.getLineNr()), Math.max(1, location.getColumnNr()));
  }

  private ConfigException error(Position at, String path, String reason) {
    return new ConfigException(source, at.line(), at.column(), path, reason);
  }

  /**
   * One line out of SnakeYAML's multi-line report: the problem, where it is, and where the
   * construct it broke started ("while parsing a flow sequence at 3:9").
   */
  private ConfigException syntaxError(JsonProcessingException e) {
    if (e.getCause() instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
      Mark problem = marked.getProblemMark();
      StringBuilder reason = new StringBuilder("YAML syntax: ").append(marked.getProblem());
      Mark context = marked.getContextMark();
      if (marked.getContext() != null && context != null) {
        reason
            .append(" (")
            .append(marked.getContext())
            .append(" at ")
            .append(context.getLine() + 1)
            .append(':')
            .append(context.getColumn() + 1)
            .append(')');
      }
      return error(
          new Position(problem.getLine() + 1, problem.getColumn() + 1),
          currentPath,
          reason.toString());
    }
    JsonLocation location = e.getLocation();
    Position at =
        location == null
            ? new Position(1, 1)
            : new Position(Math.max(1, location.getLineNr()), Math.max(1, location.getColumnNr()));
    String message = e.getOriginalMessage() == null ? "malformed" : e.getOriginalMessage();
    return error(at, currentPath, "YAML syntax: " + message.lines().findFirst().orElse(""));
  }

  private static String display(String path) {
    return path.isEmpty() ? ROOT : path;
  }
}
