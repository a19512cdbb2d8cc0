package io.baton.admin;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The bearer token of a node's admin endpoint: HMAC-SHA256 of a fixed label under the cluster key,
 * in hex. Whoever can read the node's config (and so its key) can run {@code baton ctl}; nothing
 * else is accepted. Stateless.
 */
public final class AdminToken {
  private static final String LABEL = "baton admin endpoint v1";

  private AdminToken() {}

  public static String of(byte[] clusterKey) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(clusterKey, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(LABEL.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Constant-time comparison of a presented token with the expected one. */
  static boolean matches(String presented, String expected) {
    return presented != null
        && MessageDigest.isEqual(
            presented.getBytes(StandardCharsets.US_ASCII),
            expected.getBytes(StandardCharsets.US_ASCII));
  }
}
