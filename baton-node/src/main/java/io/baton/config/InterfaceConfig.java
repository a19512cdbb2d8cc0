package io.baton.config;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * One of a node's networks: the Linux device and this node's IPv4 address on it. Immutable.
 *
 * @param device interface name as {@code ip link} shows it, e.g. {@code front} or {@code eth1}
 * @param address this node's address on that network
 */
public record InterfaceConfig(String device, Inet4Address address) {
  public InterfaceConfig {
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(address, "address");
  }

  @Override
  public String toString() {
    return device + "/" + address.getHostAddress();
  }
}
