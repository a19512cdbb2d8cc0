package io.baton.transplant;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/** Test helper: SHA-256 of a byte stream plus a deterministic pseudo-random source. */
final class StreamDigest {
  private final MessageDigest sha;
  private long bytes;

  StreamDigest() {
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  void update(byte[] b, int off, int len) {
    sha.update(b, off, len);
    bytes += len;
  }

  void update(byte[] b) {
    update(b, 0, b.length);
  }

  long bytes() {
    return bytes;
  }

  String hex() {
    return HexFormat.of().formatHex(sha.digest());
  }

  static byte[] random(long seed, int length) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }
}
