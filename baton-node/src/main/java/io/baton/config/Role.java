package io.baton.config;

/**
 * What a node does in the farm; a node may have both roles ("peer mode"). Spelt in lower case in
 * the config ({@code roles: [dispatcher, server]}).
 */
public enum Role {
  /** Owns VIPs on the front network, reads first requests and hands connections off. */
  DISPATCHER,
  /** Holds VIPs on {@code lo}, restores handed-off connections and answers clients directly. */
  SERVER,
  /** A split-TCP WAN gateway between a LAN and a WAN (seed 003); not part of a farm. */
  GATEWAY;

  /** The config spelling, e.g. {@code dispatcher}. */
  public String configName() {
    return ConfigField.configName(this);
  }
}
