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
 * @param encapPort UDP port on the fabric address where servers take encapsulated client packets
 *     (pools with {@code forwarding: encap}, and the first datagram of every UDP flow)
 */
public record ClusterConfig(byte[] key, String keySource, int handoffPort, int encapPort) {
  /** Shortest accepted key: 256 bits, the HMAC-SHA256 block of security. */
  public static final int MIN_KEY_BYTES = 32;

  /** Fabric port of server agents when the config does not name one. */
  public static final int DEFAULT_HANDOFF_PORT = 7400;

  /** UDP port of the servers' decapsulation when the config does not name one. */
  public static final int DEFAULT_ENCAP_PORT = 7401;

  /** A cluster whose servers take encapsulated packets on {@link #DEFAULT_ENCAP_PORT}. */
  public ClusterConfig(byte[] key, String keySource, int handoffPort) {
    this(key, keySource, handoffPort, DEFAULT_ENCAP_PORT);
  }

  public ClusterConfig {
    key = key.clone();
    if (key.length < MIN_KEY_BYTES) {
      throw new IllegalArgumentException(
          "cluster key must be at least " + MIN_KEY_BYTES + " bytes, got " + key.length);
    }
    Objects.requireNonNull(keySource, "keySource");
    if (encapPort == handoffPort) {
      // Different protocols, but one number for two services confuses operators and firewalls.
      throw new IllegalArgumentException("encap port and handoff port must differ: " + encapPort);
    }
  }

  /**
   * The 8-byte check every encapsulated packet carries, derived from the key (HMAC-SHA256 of a
   * fixed label, first 8 bytes): servers drop encapsulated packets without it. Not a per-packet
   * authenticator (the kernel data plane cannot afford one); it keeps stray, misrouted and blind
   * forged packets out, while the key itself never leaves the node.
   */
  public long encapCheck() {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
      byte[] d =
          mac.doFinal("baton encap check 1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return java.nio.ByteBuffer.wrap(d).getLong();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
    }
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
        && handoffPort == that.handoffPort
        && encapPort == that.encapPort;
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(key), keySource, handoffPort, encapPort);
  }

  @Override
  public String toString() {
    return "ClusterConfig[key=("
        + key.length
        + " bytes, "
        + keySource
        + "), handoffPort="
        + handoffPort
        + ", encapPort="
        + encapPort
        + "]";
  }
}
