package io.baton.config;

/** Which requests of a keep-alive connection an HTTP VIP's rules route ({@code reroute}). */
public enum Reroute {
  /** The first: the server the dispatcher picked serves every later request (the default). */
  FIRST_REQUEST,
  /**
   * Every one: a server that reads a request belonging to a pool it is not in moves the connection,
   * at that request boundary and with the request unread, to a server of that pool (live migration;
   * needs the sync plane, and the VIP and its pools in the servers' configs).
   */
  PER_REQUEST;

  /** The config spelling, e.g. {@code per-request}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
