package io.baton.dataplane;

import io.baton.linux.IpText;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Objects;

/** A virtual address (IPv4 or IPv6) and TCP port that clients connect to. Immutable. */
public record Vip(InetAddress address, int port) {
  public Vip {
    Objects.requireNonNull(address, "address");
    if (!(address instanceof Inet4Address) && !(address instanceof Inet6Address)) {
      throw new IllegalArgumentException("VIP address must be IPv4 or IPv6: " + address);
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("VIP port must be 1..65535, got " + port);
    }
  }

  /** Whether the address is IPv6. */
  public boolean ipv6() {
    return address instanceof Inet6Address;
  }

  /** The nft concatenation literal {@code 198.18.0.100 . 80} or {@code 2001:2::100 . 80}. */
  public String toNft() {
    return IpText.of(address) + " . " + port;
  }

  @Override
  public String toString() {
    return IpText.withPort(address, port);
  }
}
