package io.baton.gateway.registration;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * How a registration request is authenticated: header {@value #ISSUED_AT} (ms since the epoch) and
 * header {@value #SEAL}, the hex HMAC-SHA256 under the registration key of {@code METHOD SP PATH LF
 * ISSUED_AT LF BODY}. The daemon refuses a seal it has seen (replay) or one issued more than {@link
 * #MAX_SKEW_MS} from its clock.
 *
 * <p>Immutable and thread-safe.
 */
public final class RegistrationSeal {
  public static final String ISSUED_AT = "X-Baton-Issued-At";
  public static final String SEAL = "X-Baton-Seal";
  public static final long MAX_SKEW_MS = 60_000;

  private final byte[] key;

  public RegistrationSeal(byte[] registrationKey) {
    this.key = registrationKey.clone();
  }

  public String seal(String method, String path, long issuedAtMs, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update((method + " " + path + "\n" + issuedAtMs + "\n").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Whether {@code seal} is right for the request (constant time). */
  public boolean verify(String method, String path, long issuedAtMs, byte[] body, String seal) {
    byte[] expected = seal(method, path, issuedAtMs, body).getBytes(StandardCharsets.US_ASCII);
    return seal != null
        && MessageDigest.isEqual(expected, seal.getBytes(StandardCharsets.US_ASCII));
  }
}
