package io.baton.app;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

/** Test fixture: a document root with a small page, a large random file and a secret beside it. */
public final class SampleFiles {
  public static final String INDEX = "<h1>baton</h1>\n";
  public final Path root;
  public final Path secret;
  public final String bigName;
  public final long bigLength;
  public final String bigSha256;

  private SampleFiles(Path root, Path secret, String bigName, long bigLength, String bigSha256) {
    this.root = root;
    this.secret = secret;
    this.bigName = bigName;
    this.bigLength = bigLength;
    this.bigSha256 = bigSha256;
  }

  /** Fills {@code dir}: {@code dir/www} is the root, {@code dir/secret.txt} lies outside it. */
  public static SampleFiles create(Path dir, int bigMiB) throws IOException {
    Path root = Files.createDirectories(dir.resolve("www"));
    Files.writeString(root.resolve("index.html"), INDEX, StandardCharsets.UTF_8);
    Files.writeString(root.resolve("hello.txt"), "hello\n", StandardCharsets.UTF_8);
    Path secret = Files.writeString(dir.resolve("secret.txt"), "secret\n", StandardCharsets.UTF_8);
    Files.createSymbolicLink(root.resolve("escape.txt"), secret);
    MessageDigest sha = RawHttpClient.sha256();
    Random random = new Random(42);
    byte[] buf = new byte[1024 * 1024];
    try (OutputStream out = Files.newOutputStream(root.resolve("big.bin"))) {
      for (int i = 0; i < bigMiB; i++) {
        random.nextBytes(buf);
        sha.update(buf);
        out.write(buf);
      }
    }
    return new SampleFiles(
        root,
        secret,
        "big.bin",
        (long) bigMiB * buf.length,
        HexFormat.of().formatHex(sha.digest()));
  }
}
