package io.baton.config;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * What all nodes of a farm share: the cluster key that authenticates every fabric frame
 * (HMAC-SHA256) and the fabric port server agents listen on. Immutable.
 *
 * <p>The key never appears in {@link #toString()}: configs get logged, keys must not.
 *
 * @param key at least {@value #MIN_KEY_BYTES} bytes; the accessor returns a copy
 * @param keySource where the key came from, for logs: {@code file /etc/baton/cluster.key} or {@code
 *     inline}
 * @param handoffPort TCP port on the fabric address where server agents accept handoffs
 */
public record ClusterConfig(byte[] key, String keySource, int handoffPort) {
  /** Shortest accepted key: 256 bits, the HMAC-SHA256 block of security. */
  public static final int MIN_KEY_BYTES = 32;

  /** Fabric port of server agents when the config does not name one. */
  public static final int DEFAULT_HANDOFF_PORT = 7400;

  public ClusterConfig {
    key = key.clone();
    if (key.length < MIN_KEY_BYTES) {
      throw new IllegalArgumentException(
          "cluster key must be at least " + MIN_KEY_BYTES + " bytes, got " + key.length);
    }
    Objects.requireNonNull(keySource, "keySource");
  }

  /** A copy of the key bytes. */
  @Override
  public byte[] key() {
    return key.clone();
  }

  /** Compares keys in constant time. */
  @Override
  public boolean equals(Object other) {
    return other instanceof ClusterConfig that
        && MessageDigest.isEqual(key, that.key)
        && keySource.equals(that.keySource)
        && handoffPort == that.handoffPort;
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(key), keySource, handoffPort);
  }

  @Override
  public String toString() {
    return "ClusterConfig[key=("
        + key.length
        + " bytes, "
        + keySource
        + "), handoffPort="
        + handoffPort
        + "]";
  }
}
