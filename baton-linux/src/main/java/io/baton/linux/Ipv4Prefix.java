package io.baton.linux;

import java.net.Inet4Address;

/**
 * An IPv4 address as assigned to a device, with its prefix length: what {@code ip addr} prints
 * as {@code 198.18.0.100/32}. Immutable.
 */
public record Ipv4Prefix(Inet4Address address, int length) {
  public Ipv4Prefix {
    if (address == null) throw new NullPointerException("address");
    if (length < 0 || length > 32) {
      throw new IllegalArgumentException("IPv4 prefix length " + length + " is not in 0..32");
    }
  }

  @Override
  public String toString() {
    return address.getHostAddress() + "/" + length;
  }
}
