package io.baton.gateway;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The gateway's keys, derived from the cluster key with HMAC-SHA256 under separate labels, so a key
 * that leaks from one use (say, a registration agent) opens nothing else.
 *
 * <p>Stateless.
 */
public final class GatewayKeys {
  private GatewayKeys() {}

  /** Seals registration requests between {@code baton register} and the daemon. */
  public static byte[] registrationKey(byte[] clusterKey) {
    return derive(clusterKey, "baton gateway registration v1");
  }

  /** Seals the HELLO of every trunk connection between gateways. */
  public static byte[] tunnelKey(byte[] clusterKey) {
    return derive(clusterKey, "baton gateway tunnel v1");
  }

  private static byte[] derive(byte[] clusterKey, String label) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(clusterKey, "HmacSHA256"));
      return mac.doFinal(label.getBytes(StandardCharsets.US_ASCII));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
