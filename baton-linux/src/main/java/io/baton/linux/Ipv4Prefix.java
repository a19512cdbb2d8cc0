package io.baton.linux;

import java.net.Inet4Address;

/**
 * An IPv4 address as assigned to a device, with its prefix length: what {@code ip addr} prints as
 * {@code 198.18.0.100/32}. Immutable.
 */
public record Ipv4Prefix(Inet4Address address, int length) {
  public Ipv4Prefix {
    if (address == null) throw new NullPointerException("address");
    if (length < 0 || length > 32) {
      throw new IllegalArgumentException("IPv4 prefix length " + length + " is not in 0..32");
    }
  }

  /** Whether {@code a} lies in this network. */
  public boolean contains(Inet4Address a) {
    return contains(toInt(address), length, toInt(a));
  }

  /**
   * Whether {@code address} lies in {@code network}/{@code length} (addresses as big-endian ints).
   */
  public static boolean contains(int network, int length, int address) {
    if (length == 0) return true;
    int mask = -1 << (32 - length);
    return (address & mask) == (network & mask);
  }

  private static int toInt(Inet4Address a) {
    byte[] b = a.getAddress();
    return (b[0] & 255) << 24 | (b[1] & 255) << 16 | (b[2] & 255) << 8 | (b[3] & 255);
  }

  @Override
  public String toString() {
    return address.getHostAddress() + "/" + length;
  }
}
