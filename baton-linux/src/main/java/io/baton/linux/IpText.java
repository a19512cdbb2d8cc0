package io.baton.linux;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Addresses as text in the form the kernel's tools print and parse: dotted IPv4, and IPv6 in the
 * canonical form of RFC 5952 (lower case, leading zeros dropped, the longest run of two or more
 * zero groups, the first if tied, written {@code ::}), which is what {@code ip -j addr} and {@code
 * nft list} print. {@link InetAddress#getHostAddress()} writes every group of an IPv6 address
 * ({@code 2001:2:0:0:0:0:0:100}), which matches neither. Stateless.
 */
public final class IpText {
  private IpText() {}

  /** {@code 198.18.0.1} or {@code 2001:2::100}. */
  public static String of(InetAddress address) {
    return switch (address) {
      case Inet4Address v4 -> v4.getHostAddress();
      case Inet6Address v6 -> ipv6(v6.getAddress());
      default -> throw new IllegalArgumentException("not an IP address: " + address);
    };
  }

  /** {@code 198.18.0.1:80} or {@code [2001:2::100]:80}. */
  public static String withPort(InetAddress address, int port) {
    return address instanceof Inet6Address
        ? "[" + of(address) + "]:" + port
        : of(address) + ":" + port;
  }

  /** The RFC 5952 text of 16 address bytes. */
  public static String ipv6(byte[] bytes) {
    if (bytes.length != 16) {
      throw new IllegalArgumentException("an IPv6 address has 16 bytes, not " + bytes.length);
    }
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = ((bytes[2 * i] & 0xff) << 8) | (bytes[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLength = 1; // a single zero group is written "0", never "::"
    for (int i = 0; i < 8; ) {
      if (groups[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && groups[j] == 0) j++;
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j;
    }
    StringBuilder b = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        b.append("::");
        i += bestLength - 1;
        continue;
      }
      if (!b.isEmpty() && b.charAt(b.length() - 1) != ':') b.append(':');
      b.append(Integer.toHexString(groups[i]));
    }
    return b.toString();
  }
}
