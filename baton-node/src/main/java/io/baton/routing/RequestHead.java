package io.baton.routing;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the dispatcher learned from the head of a client's first HTTP/1.x request.
 *
 * @param method the method token, case as sent ({@code GET})
 * @param target the request target exactly as sent ({@code /a/b?x=1}, {@code http://h/a}, {@code
 *     *})
 * @param path the path part of the target, not percent-decoded and not normalised ({@code /a/b};
 *     {@code /} for an absolute-form target without path; {@code *} for the asterisk form). Dot
 *     segments are left alone, so path rules steer traffic but are no access control.
 * @param query the part after the first {@code ?}, if there is a {@code ?}
 * @param version {@code HTTP/1.1} or {@code HTTP/1.0}
 * @param host the authority's host, lowercased, port and one trailing dot removed: from an
 *     absolute-form target if there is one (RFC 9112 §3.2.2), else from the Host header; empty when
 *     there is none (HTTP/1.0) or it is empty
 * @param headers every header field in arrival order
 */
public record RequestHead(
    String method,
    String target,
    String path,
    Optional<String> query,
    String version,
    Optional<String> host,
    HeaderFields headers) {
  public static final String HTTP_1_0 = "HTTP/1.0";
  public static final String HTTP_1_1 = "HTTP/1.1";

  public RequestHead {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(headers, "headers");
  }

  /**
   * Whether the client expects the connection to stay open after this request: HTTP/1.1 unless
   * {@code Connection: close}; HTTP/1.0 only with {@code Connection: keep-alive}.
   */
  public boolean keepAlive() {
    List<String> connection = headers.tokens("Connection");
    if (connection.contains("close")) return false;
    return HTTP_1_1.equals(version) || connection.contains("keep-alive");
  }
}
