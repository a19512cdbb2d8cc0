package io.baton.gateway.wan;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals and checks the HELLO that opens each trunk connection: HMAC-SHA256 under the tunnel key
 * over every field (trunk id, connection index, parameters, issue time). A HELLO issued more than
 * {@link #MAX_SKEW_MS} from the receiver's clock is refused, so a recorded one cannot open a trunk
 * later. Frames after the HELLO are not sealed: the connection is (see docs/design.md).
 *
 * <p>Immutable and thread-safe (a {@link Mac} is made per call).
 */
public final class TrunkHello {
  /** How far a HELLO's issue time may be from the receiver's clock. */
  public static final long MAX_SKEW_MS = 60_000;

  private final byte[] key;

  /**
   * @param key the tunnel key, at least 32 bytes (derived from the cluster key by the gateway)
   */
  public TrunkHello(byte[] key) {
    if (key.length < 32) throw new IllegalArgumentException("tunnel key shorter than 32 bytes");
    this.key = key.clone();
  }

  public TrunkFrame.Hello seal(byte[] trunkId, int index, WanParameters params, long nowMs) {
    return new TrunkFrame.Hello(
        trunkId.clone(),
        index,
        params,
        nowMs,
        mac(TrunkFrameCodec.signedPart(trunkId, index, params, nowMs)));
  }

  /** Null if {@code hello} is good at {@code nowMs}, else why not (for the log). */
  public String problem(TrunkFrame.Hello hello, long nowMs) {
    byte[] expected =
        mac(
            TrunkFrameCodec.signedPart(
                hello.trunkId(), hello.index(), hello.params(), hello.issuedAtMs()));
    if (!MessageDigest.isEqual(hello.seal(), expected)) return "bad seal (another key?)";
    if (Math.abs(nowMs - hello.issuedAtMs()) > MAX_SKEW_MS) {
      return "issued "
          + (nowMs - hello.issuedAtMs())
          + " ms ago (clock skew or replay; at most "
          + MAX_SKEW_MS
          + ")";
    }
    if (hello.index() >= hello.params().connections()) {
      return "connection " + hello.index() + " of " + hello.params().connections();
    }
    return null;
  }

  private byte[] mac(byte[] signed) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update("baton trunk hello v1".getBytes(StandardCharsets.US_ASCII));
      return mac.doFinal(signed);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
