package io.baton.config;

import static io.baton.config.Configs.KEY_HEX;
import static io.baton.config.Configs.SERVER;
import static io.baton.config.Configs.edit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterKeyTest {
  private static final byte[] KEY = HexFormat.of().parseHex(KEY_HEX);

  /** Writes a key file only its owner may read, as the docs ask (no warning in the log). */
  static Path writeKeyFile(Path file, String text) throws IOException {
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  private static String withKey(String clusterLine) {
    return edit(SERVER, "  key: " + KEY_HEX, clusterLine);
  }

  @Test
  void inlineHexKey() throws ConfigException {
    ClusterConfig cluster = ConfigLoader.parse(SERVER, "s.yaml").cluster();

    assertThat(cluster.key()).isEqualTo(KEY);
    assertThat(cluster.keySource()).isEqualTo("inline");
  }

  @Test
  void inlineBase64Key() throws ConfigException {
    String yaml = withKey("  key: " + Base64.getEncoder().encodeToString(KEY));

    assertThat(ConfigLoader.parse(yaml, "s.yaml").cluster().key()).isEqualTo(KEY);
  }

  @Test
  void keyFileWithBase64AndTrailingNewline(@TempDir Path dir) throws IOException, ConfigException {
    Path file =
        writeKeyFile(dir.resolve("cluster.key"), Base64.getEncoder().encodeToString(KEY) + "\n");

    ClusterConfig cluster = ConfigLoader.parse(withKey("  key-file: " + file), "s.yaml").cluster();

    assertThat(cluster.key()).isEqualTo(KEY);
    assertThat(cluster.keySource()).isEqualTo("file " + file);
  }

  @Test
  void keyFileTooShort(@TempDir Path dir) throws IOException {
    Path file =
        writeKeyFile(
            dir.resolve("cluster.key"),
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddee\n");

    assertThatThrownBy(() -> ConfigLoader.parse(withKey("  key-file: " + file), "s.yaml"))
        .hasMessage(
            "s.yaml:7:13: cluster.key-file: key file "
                + file
                + " is 31 bytes, needs at"
                + " least 32; generate one with 'openssl rand -hex 32'");
  }

  @Test
  void keyFileThatIsADirectory(@TempDir Path dir) {
    assertThatThrownBy(() -> ConfigLoader.parse(withKey("  key-file: " + dir), "s.yaml"))
        .hasMessage("s.yaml:7:13: cluster.key-file: cannot read " + dir + ": is a directory");
  }

  @Test
  void keyFileRelativeToTheGivenDirectory(@TempDir Path dir) throws IOException, ConfigException {
    writeKeyFile(dir.resolve("k"), KEY_HEX);

    ClusterConfig cluster = ConfigLoader.parse(withKey("  key-file: k"), "s.yaml", dir).cluster();

    assertThat(cluster.key()).isEqualTo(KEY);
  }

  @Test
  void toStringNeverShowsTheKey() throws ConfigException {
    BatonConfig config = ConfigLoader.parse(SERVER, "s.yaml");
    String base64 = Base64.getEncoder().encodeToString(KEY);

    for (String text : new String[] {config.toString(), config.cluster().toString()}) {
      assertThat(text)
          .doesNotContain(KEY_HEX)
          .doesNotContainIgnoringCase(KEY_HEX.substring(0, 8))
          .doesNotContain(base64.substring(0, 8))
          .doesNotContain("[B@");
    }
    assertThat(config.cluster().toString())
        .isEqualTo("ClusterConfig[key=(32 bytes, inline), handoffPort=7400, encapPort=7401]");
  }

  @Test
  void keyAccessorReturnsACopy() throws ConfigException {
    ClusterConfig cluster = ConfigLoader.parse(SERVER, "s.yaml").cluster();

    cluster.key()[0] ^= 1;

    assertThat(cluster.key()).isEqualTo(KEY);
  }

  @Test
  void equalityComparesKeyContents() {
    assertThat(new ClusterConfig(KEY, "inline", 7400))
        .isEqualTo(new ClusterConfig(KEY.clone(), "inline", 7400))
        .hasSameHashCodeAs(new ClusterConfig(KEY.clone(), "inline", 7400))
        .isNotEqualTo(new ClusterConfig(new byte[32], "inline", 7400));
  }
}
