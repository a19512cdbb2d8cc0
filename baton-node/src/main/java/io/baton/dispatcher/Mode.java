package io.baton.dispatcher;

/** How a dispatcher reads a new connection before choosing a server. */
public enum Mode {
  /** Read and parse the HTTP/1.x request head; route on method, host, path, headers. */
  HTTP,
  /** Read the TLS ClientHello and route on SNI without decrypting; the server terminates TLS. */
  TLS,
  /** Hand off right after accept, reading nothing. */
  L4
}
