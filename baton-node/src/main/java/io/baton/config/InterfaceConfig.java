package io.baton.config;

import java.net.InetAddress;
import java.util.Objects;

/**
 * One of a node's networks: the Linux device and this node's address on it (IPv4; IPv6 for front
 * and fabric). Immutable.
 *
 * @param device interface name as {@code ip link} shows it, e.g. {@code front} or {@code eth1}
 * @param address this node's address on that network
 */
public record InterfaceConfig(String device, InetAddress address) {
  public InterfaceConfig {
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(address, "address");
  }

  @Override
  public String toString() {
    return device + "/" + io.baton.linux.IpText.of(address);
  }
}
