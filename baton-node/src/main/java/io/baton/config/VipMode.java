package io.baton.config;

/** How a dispatcher treats a new connection (or UDP flow) to a VIP before handing it off. */
public enum VipMode {
  /** Read the HTTP/1.x request head and route on host, path and headers. */
  HTTP,
  /** Read the TLS ClientHello and route on SNI without decrypting; the server terminates TLS. */
  TLS,
  /** Hand off right after accept without reading: no rules, only the VIP's default pool. */
  L4,
  /**
   * UDP flows: each new client address and port is assigned to a server of the default pool, and
   * its later datagrams follow it in the kernel; servers answer from the VIP. No rules.
   */
  UDP;

  /** The config spelling, e.g. {@code http}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
