package io.baton.dispatcher;

import io.baton.handoff.FabricMessage;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The short description of a routed request that travels in a HANDOFF for the server's logs, e.g.
 * {@code GET /x host=y}. Bounded independently of the head: a request head may be up to {@code
 * max-head-bytes} (1 MiB) and its target alone thousands of bytes (SAML and OAuth redirects), while
 * the fabric field holds {@value FabricMessage#MAX_REQUEST_SUMMARY_BYTES} bytes of UTF-8; each part
 * is cut to a few hundred bytes, whole characters only, and a cut part ends in a marker with its
 * full length.
 *
 * <p>Stateless.
 */
final class RequestSummary {
  static final int MAX_METHOD_BYTES = 32;
  static final int MAX_TARGET_BYTES = 256;
  static final int MAX_HOST_BYTES = 255;
  static final int MAX_SNI_BYTES = 255;

  private RequestSummary() {}

  /** {@code METHOD TARGET[ host=HOST]}, each part bounded. */
  static String http(String method, String target, Optional<String> host) {
    String summary =
        bounded(method, MAX_METHOD_BYTES)
            + " "
            + bounded(target, MAX_TARGET_BYTES)
            + host.map(h -> " host=" + bounded(h, MAX_HOST_BYTES)).orElse("");
    return FabricMessage.fit(summary, FabricMessage.MAX_REQUEST_SUMMARY_BYTES);
  }

  /** {@code tls sni=NAME} or {@code tls sni=-}. */
  static String tls(Optional<String> sni) {
    return "tls sni=" + sni.map(s -> bounded(s, MAX_SNI_BYTES)).orElse("-");
  }

  /**
   * {@code s} if it fits {@code maxBytes} of UTF-8, else its longest fitting prefix and a marker.
   */
  static String bounded(String s, int maxBytes) {
    if ((long) s.length() * 3 <= maxBytes) return s; // no char takes more than 3 bytes
    int bytes = utf8Length(s);
    if (bytes <= maxBytes) return s;
    return FabricMessage.fit(s, maxBytes) + "...(" + bytes + " bytes)";
  }

  private static int utf8Length(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }
}
