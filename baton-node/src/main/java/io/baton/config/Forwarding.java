package io.baton.config;

/** How a dispatcher carries the later client packets of a pool's connections to its servers. */
public enum Forwarding {
  /**
   * Unchanged, to the server's MAC address on the fabric (nftables {@code fwd}): dispatcher and
   * servers share one L2 segment, as with IPVS direct routing. The default.
   */
  DIRECT,
  /**
   * Wrapped in a UDP datagram with a Baton header to the server's fabric address, through any
   * routers between (a tc BPF program on the dispatcher wraps, one on the server unwraps).
   */
  ENCAP;

  /** The config spelling, e.g. {@code encap}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
