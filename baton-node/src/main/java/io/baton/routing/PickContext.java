package io.baton.routing;

import java.net.InetAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * What a {@link Balancer} may base its choice on, for hash keys: the client's address, and the host
 * and path of the request when there is one (for TLS the host is the SNI name).
 *
 * <p>Immutable and thread-safe.
 */
public record PickContext(InetAddress clientIp, Optional<String> host, Optional<String> path) {
  public PickContext {
    Objects.requireNonNull(clientIp, "clientIp");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(path, "path");
  }

  /** A connection known only by its client (layer 4). */
  public static PickContext of(InetAddress clientIp) {
    return new PickContext(clientIp, Optional.empty(), Optional.empty());
  }

  /** An HTTP connection, by its first request. */
  public static PickContext of(InetAddress clientIp, RequestHead head) {
    return new PickContext(clientIp, head.host(), Optional.of(head.path()));
  }

  /** A TLS connection, by its server name. */
  public static PickContext ofTls(InetAddress clientIp, Optional<String> sni) {
    return new PickContext(clientIp, sni, Optional.empty());
  }
}
