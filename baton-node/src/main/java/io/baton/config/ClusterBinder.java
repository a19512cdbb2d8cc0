package io.baton.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the {@code cluster} section: the cluster key, inline ({@code key}) or from a file ({@code
 * key-file}, exactly one of them), and the handoff port.
 *
 * <p>A key is text: hex (e.g. {@code openssl rand -hex 32}) or base64 ({@code openssl rand -base64
 * 32}), surrounding white space ignored, at least {@value ClusterConfig#MIN_KEY_BYTES} bytes once
 * decoded. A relative key file is resolved against the config file's directory. A key file that
 * other users may read is accepted with a logged warning.
 *
 * <p>Stateless.
 */
final class ClusterBinder {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterBinder.class);

  /** Key files are a few dozen bytes; refuse to read something that is clearly not one. */
  private static final long MAX_KEY_FILE_BYTES = 64 * 1024;

  private static final Pattern HEX = Pattern.compile("([0-9a-fA-F]{2})+");

  private static final String GENERATE = "generate one with 'openssl rand -hex 32'";

  private ClusterBinder() {}

  static ClusterConfig bind(ConfigField cluster, Path baseDirectory) throws ConfigException {
    cluster.allowKeys("key-file", "key", "handoff-port", "encap-port");
    ConfigField keyFile = cluster.get("key-file");
    ConfigField inline = cluster.get("key");
    if (keyFile.isPresent() && inline.isPresent()) {
      throw inline.error("give either key or key-file, not both");
    }
    if (!keyFile.isPresent() && !inline.isPresent()) {
      throw cluster.error(
          "needs key-file (or key): the cluster key that authenticates handoffs; " + GENERATE);
    }
    byte[] key;
    String keySource;
    if (keyFile.isPresent()) {
      Path file = baseDirectory.resolve(keyFile.asString()).normalize();
      key = decode(keyFile, read(keyFile, file), "key file " + file);
      keySource = "file " + file;
    } else {
      key = decode(inline, inline.asString(), "key");
      keySource = "inline";
    }
    ConfigField port = cluster.get("handoff-port");
    int handoffPort = port.isPresent() ? port.asPort() : ClusterConfig.DEFAULT_HANDOFF_PORT;
    ConfigField encap = cluster.get("encap-port");
    int encapPort = encap.isPresent() ? encap.asPort() : ClusterConfig.DEFAULT_ENCAP_PORT;
    if (encapPort == handoffPort) {
      throw (encap.isPresent() ? encap : port)
          .error(
              "the encap port (UDP) and the handoff port (TCP) must differ, both are " + encapPort);
    }
    return new ClusterConfig(key, keySource, handoffPort, encapPort);
  }

  private static String read(ConfigField field, Path file) throws ConfigException {
    try {
      if (Files.isDirectory(file)) {
        throw field.error("cannot read " + file + ": is a directory");
      }
      if (Files.size(file) > MAX_KEY_FILE_BYTES) {
        throw field.error(file + " is too large to be a key file");
      }
      String text = Files.readString(file, StandardCharsets.ISO_8859_1);
      warnIfOthersCanRead(file);
      return text;
    } catch (IOException e) {
      throw field.error("cannot read " + file + ": " + ConfigLoader.describe(e));
    }
  }

  private static byte[] decode(ConfigField field, String text, String what) throws ConfigException {
    String trimmed = text.strip();
    byte[] key;
    if (HEX.matcher(trimmed).matches()) {
      key = HexFormat.of().parseHex(trimmed);
    } else {
      key = base64(trimmed.replaceAll("\\s+", ""));
      if (key == null) {
        throw field.error(what + " must be hex or base64 text; " + GENERATE);
      }
    }
    if (key.length < ClusterConfig.MIN_KEY_BYTES) {
      throw field.error(
          what
              + " is "
              + key.length
              + " bytes, needs at least "
              + ClusterConfig.MIN_KEY_BYTES
              + "; "
              + GENERATE);
    }
    return key;
  }

  /** Standard or URL-safe base64, padded or not; null if it is neither. */
  private static byte[] base64(String text) {
    for (Base64.Decoder decoder : List.of(Base64.getDecoder(), Base64.getUrlDecoder())) {
      try {
        return decoder.decode(text);
      } catch (IllegalArgumentException e) {
        // Try the next alphabet.
      }
    }
    return null;
  }

  private static void warnIfOthersCanRead(Path file) {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      if (permissions.contains(PosixFilePermission.OTHERS_READ)) {
        LOG.warn("cluster key file {} is readable by every user; run: chmod 600 {}", file, file);
      }
    } catch (IOException | UnsupportedOperationException e) {
      // No POSIX permissions to check (or not readable as attributes): nothing to warn about.
    }
  }
}
