package io.baton.config;

/** How a pool picks one of its members for a new connection. */
public enum Balance {
  /** Fewest active connections relative to weight, from the servers' load reports (default). */
  LEAST_CONNECTIONS,
  /** Weighted round-robin. */
  ROUND_ROBIN,
  /** Consistent hashing on the pool's {@link HashKey}: the same key reaches the same server. */
  HASH,
  /**
   * Locality-aware (LARD): the same target (host and path) reaches the same server while it is not
   * overloaded, so the servers' caches split the working set.
   */
  LOCALITY;

  /** The config spelling, e.g. {@code least-connections}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
