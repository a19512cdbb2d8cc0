package io.baton.server.delivery;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Test helper: SHA-256 of a byte stream and how long it was. Not thread-safe. */
final class Sha256 {
  private final MessageDigest sha;
  private long bytes;

  Sha256() {
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  Sha256 update(byte[] b, int off, int len) {
    sha.update(b, off, len);
    bytes += len;
    return this;
  }

  Sha256 update(byte[] b) {
    return update(b, 0, b.length);
  }

  long bytes() {
    return bytes;
  }

  String hex() {
    return HexFormat.of().formatHex(sha.digest());
  }
}
