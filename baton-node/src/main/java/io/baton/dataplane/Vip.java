package io.baton.dataplane;

import java.net.Inet4Address;
import java.util.Objects;

/** A virtual address and TCP port that clients connect to. Immutable. */
public record Vip(Inet4Address address, int port) {
  public Vip {
    Objects.requireNonNull(address, "address");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("VIP port must be 1..65535, got " + port);
    }
  }

  /** The nft concatenation literal {@code 198.18.0.100 . 80}. */
  public String toNft() {
    return address.getHostAddress() + " . " + port;
  }

  @Override
  public String toString() {
    return address.getHostAddress() + ":" + port;
  }
}
