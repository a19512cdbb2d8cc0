package io.baton.config;

/** What a {@link Balance#HASH} pool hashes on. */
public enum HashKey {
  /** The client's IP address (default; works in every VIP mode). */
  CLIENT_IP,
  /** The HTTP Host header, or the SNI name in tls VIPs. Not available in l4 VIPs. */
  HOST,
  /** The HTTP request path. Only in http VIPs. */
  PATH;

  /** The config spelling, e.g. {@code client-ip}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
