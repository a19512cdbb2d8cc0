package io.baton.lab;

import io.baton.linux.IpText;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An IPv6 address with a prefix length, confined to 2001:2::/48 (RFC 5180, reserved for
 * benchmarking) so a lab can never claim or route an address that exists elsewhere; the IPv6
 * counterpart of {@link LabAddress}. A prefix shorter than /48 is refused: its network would reach
 * outside the range. Immutable.
 *
 * @param address the 16 address bytes (copied)
 * @param prefixLength 48 to 128
 */
public record LabAddress6(byte[] address, int prefixLength) {
  static final String RANGE = "2001:2::/48";
  static final int RANGE_PREFIX = 48;
  private static final byte[] RANGE_NETWORK = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00};
  private static final Pattern FORM = Pattern.compile("([0-9A-Fa-f:.]+)(?:/(\\d{1,3}))?");

  public LabAddress6 {
    if (address == null || address.length != 16) {
      throw new IllegalArgumentException("an IPv6 address has 16 bytes");
    }
    address = address.clone();
    if (!Arrays.equals(address, 0, 6, RANGE_NETWORK, 0, 6)) {
      throw new IllegalArgumentException(
          IpText.ipv6(address) + " is outside " + RANGE + ", the only IPv6 range a lab may use");
    }
    if (prefixLength < RANGE_PREFIX || prefixLength > 128) {
      throw new IllegalArgumentException(
          "prefix /"
              + prefixLength
              + " is outside /48../128: a lab network must stay inside "
              + RANGE);
    }
  }

  /** Parses {@code v6/len}; refuses anything malformed or outside 2001:2::/48. */
  public static LabAddress6 parseCidr(String text) {
    Matcher m = match(text);
    if (m.group(2) == null) {
      throw new IllegalArgumentException(
          "'" + text + "' has no prefix length; expected e.g. 2001:2::10/64");
    }
    return new LabAddress6(addressOf(m, text), Integer.parseInt(m.group(2)));
  }

  /** Parses a plain address as a /128; refuses anything outside 2001:2::/48. */
  public static LabAddress6 parseHost(String text) {
    Matcher m = match(text);
    if (m.group(2) != null) {
      throw new IllegalArgumentException(
          "'" + text + "' has a prefix length; expected a plain address");
    }
    return new LabAddress6(addressOf(m, text), 128);
  }

  /** Whether {@code text} is written as an IPv6 address (it has a colon), not as IPv4. */
  public static boolean looksLikeIpv6(String text) {
    return text != null && text.indexOf(':') >= 0;
  }

  @Override
  public byte[] address() {
    return address.clone();
  }

  /** The address as an {@link Inet6Address}. */
  public Inet6Address inetAddress() {
    return (Inet6Address) InetAddress.ofLiteral(hostText());
  }

  /** The address alone in the form {@code ip} prints it, e.g. {@code 2001:2::10}. */
  public String hostText() {
    return IpText.ipv6(address);
  }

  /** Address and prefix, e.g. {@code 2001:2::10/64}. */
  public String cidrText() {
    return hostText() + "/" + prefixLength;
  }

  /** The network this address belongs to, e.g. {@code 2001:2::/64}. */
  public LabAddress6 network() {
    byte[] n = address.clone();
    for (int bit = prefixLength; bit < 128; bit++) n[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    return new LabAddress6(n, prefixLength);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LabAddress6 other
        && prefixLength == other.prefixLength
        && Arrays.equals(address, other.address);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(address) + prefixLength;
  }

  @Override
  public String toString() {
    return cidrText();
  }

  private static Matcher match(String text) {
    if (text == null) throw new IllegalArgumentException("address is null");
    Matcher m = FORM.matcher(text);
    if (!m.matches() || text.indexOf(':') < 0) {
      throw new IllegalArgumentException(
          "'" + text + "' is not an IPv6 address like 2001:2::10/64");
    }
    return m;
  }

  private static byte[] addressOf(Matcher m, String text) {
    InetAddress parsed;
    try {
      // ofLiteral never resolves a name; it returns an Inet4Address for a v4-mapped literal.
      parsed = InetAddress.ofLiteral(m.group(1));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "'" + text + "' is not an IPv6 address like 2001:2::10/64", e);
    }
    if (!(parsed instanceof Inet6Address v6)) {
      throw new IllegalArgumentException(
          "'" + text + "' is a v4-mapped address; a lab uses IPv4 or IPv6, not a mix");
    }
    return v6.getAddress();
  }
}
