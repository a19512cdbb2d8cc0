package io.baton.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads a node's YAML config file and checks it completely before anything starts: syntax, known
 * keys, types, ranges, and every cross-reference. The first problem found is thrown as a {@link
 * ConfigException} whose message reads {@code FILE:LINE:COLUMN: FIELD.PATH: reason}.
 *
 * <p>Never consults DNS: addresses must be IPv4 literals. Reads the cluster key file if the config
 * names one (relative paths are resolved against the config file's directory).
 *
 * <p>Stateless and thread-safe.
 */
public final class ConfigLoader {
  /** A node config is a few kilobytes; anything this large is the wrong file. */
  private static final long MAX_FILE_BYTES = 1 << 20;

  private ConfigLoader() {}

  /** Reads and checks {@code file}; messages name it as given. */
  public static BatonConfig load(Path file) throws ConfigException {
    String source = file.toString();
    String yaml;
    try {
      if (Files.isDirectory(file)) {
        throw new ConfigException(source, "is a directory, not a config file", null);
      }
      if (Files.size(file) > MAX_FILE_BYTES) {
        throw new ConfigException(source, "is over 1 MiB, not a node config file", null);
      }
      yaml = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(source, "cannot read: " + describe(e), e);
    }
    Path directory = file.toAbsolutePath().getParent();
    return parse(yaml, source, directory == null ? Path.of("/") : directory);
  }

  /**
   * Checks a config given as text; {@code sourceName} names it in messages. A relative key file is
   * resolved against the working directory.
   */
  public static BatonConfig parse(String yaml, String sourceName) throws ConfigException {
    return parse(yaml, sourceName, Path.of("").toAbsolutePath());
  }

  /** As {@link #parse(String, String)}, resolving relative paths against {@code baseDirectory}. */
  public static BatonConfig parse(String yaml, String sourceName, Path baseDirectory)
      throws ConfigException {
    YamlNode document = YamlTreeReader.read(yaml, sourceName);
    return ConfigBinder.bind(ConfigField.root(sourceName, document), baseDirectory);
  }

  /** A short reason for a failed read: "no such file", "permission denied", ... */
  static String describe(IOException e) {
    return switch (e) {
      case NoSuchFileException _ -> "no such file";
      case AccessDeniedException _ -> "permission denied";
      case CharacterCodingException _ -> "not UTF-8 text";
      default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    };
  }
}
