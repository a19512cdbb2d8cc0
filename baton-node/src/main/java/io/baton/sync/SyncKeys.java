package io.baton.sync;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * The sync plane's keys, each derived from the cluster key with HMAC-SHA256 under its own label, so
 * that no key is used for two purposes (the fabric uses the cluster key itself): an AES-256 key for
 * JGroups' encryption, an HMAC key that seals every load report, and the token that admits a node
 * to the cluster. Immutable; the accessors return copies.
 */
public final class SyncKeys {
  private static final String HMAC = "HmacSHA256";
  private final byte[] encryption;
  private final byte[] reports;
  private final byte[] join;

  private SyncKeys(byte[] encryption, byte[] reports, byte[] join) {
    this.encryption = encryption;
    this.reports = reports;
    this.join = join;
  }

  /** Derives the keys from {@code clusterKey} (at least 32 bytes, checked by the config). */
  public static SyncKeys derive(byte[] clusterKey) {
    if (clusterKey.length < 32) {
      throw new IllegalArgumentException(
          "cluster key must be at least 32 bytes, got " + clusterKey.length);
    }
    return new SyncKeys(
        label(clusterKey, "baton sync encryption v1"),
        label(clusterKey, "baton sync reports v1"),
        label(clusterKey, "baton sync join v1"));
  }

  /** The AES-256 key of JGroups' SYM_ENCRYPT. */
  public SecretKey encryptionKey() {
    return new SecretKeySpec(encryption, "AES");
  }

  /** The HMAC-SHA256 key that seals load reports. */
  byte[] reportKey() {
    return reports.clone();
  }

  /** The secret a joining node shows the coordinator. */
  byte[] joinSecret() {
    return join.clone();
  }

  static Mac hmac(byte[] key) {
    try {
      Mac mac = Mac.getInstance(HMAC);
      mac.init(new SecretKeySpec(key, HMAC));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot compute " + HMAC, e);
    }
  }

  private static byte[] label(byte[] key, String label) {
    return hmac(key).doFinal(label.getBytes(StandardCharsets.US_ASCII));
  }

  @Override
  public String toString() {
    return "SyncKeys[(derived)]";
  }
}
