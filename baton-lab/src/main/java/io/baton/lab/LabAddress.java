package io.baton.lab;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An IPv4 address with a prefix length, confined to 198.18.0.0/15 (RFC 2544, reserved for network
 * benchmarking) so a lab can never claim or route an address that exists elsewhere. A prefix
 * shorter than /15 is refused too: its network would reach outside the range. Immutable.
 *
 * @param address the address as a 32-bit big-endian value
 * @param prefixLength 15 to 32
 */
public record LabAddress(int address, int prefixLength) {
  static final int RANGE_NETWORK = 0xC6120000; // 198.18.0.0
  static final int RANGE_PREFIX = 15;
  private static final int RANGE_MASK = mask(RANGE_PREFIX);
  private static final Pattern FORM =
      Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})(?:/(\\d{1,2}))?");

  public LabAddress {
    if ((address & RANGE_MASK) != RANGE_NETWORK) {
      throw new IllegalArgumentException(
          dotted(address) + " is outside 198.18.0.0/15, the only range a lab may use");
    }
    if (prefixLength < RANGE_PREFIX || prefixLength > 32) {
      throw new IllegalArgumentException(
          "prefix /"
              + prefixLength
              + " is outside /15../32: a lab network must stay inside 198.18.0.0/15");
    }
  }

  /** Parses {@code a.b.c.d/len}; refuses anything malformed or outside 198.18.0.0/15. */
  public static LabAddress parseCidr(String text) {
    Matcher m = match(text);
    if (m.group(5) == null) {
      throw new IllegalArgumentException(
          "'" + text + "' has no prefix length; expected e.g. 198.18.0.10/24");
    }
    return new LabAddress(addressOf(m, text), Integer.parseInt(m.group(5)));
  }

  /** Parses a plain address {@code a.b.c.d} as a /32; refuses anything outside 198.18.0.0/15. */
  public static LabAddress parseHost(String text) {
    Matcher m = match(text);
    if (m.group(5) != null) {
      throw new IllegalArgumentException(
          "'" + text + "' has a prefix length; expected a plain address");
    }
    return new LabAddress(addressOf(m, text), 32);
  }

  /** The address alone, e.g. {@code 198.18.0.10}. */
  public String hostText() {
    return dotted(address);
  }

  /** Address and prefix, e.g. {@code 198.18.0.10/24}. */
  public String cidrText() {
    return dotted(address) + "/" + prefixLength;
  }

  /** The network this address belongs to, e.g. {@code 198.18.0.0/24}. */
  public LabAddress network() {
    return new LabAddress(address & mask(prefixLength), prefixLength);
  }

  @Override
  public String toString() {
    return cidrText();
  }

  private static Matcher match(String text) {
    if (text == null) throw new IllegalArgumentException("address is null");
    Matcher m = FORM.matcher(text);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not an IPv4 address like 198.18.0.10/24");
    }
    return m;
  }

  private static int addressOf(Matcher m, String text) {
    int value = 0;
    for (int i = 1; i <= 4; i++) {
      int octet = Integer.parseInt(m.group(i));
      if (octet > 255) throw new IllegalArgumentException("'" + text + "' has an octet above 255");
      value = (value << 8) | octet;
    }
    return value;
  }

  private static int mask(int prefixLength) {
    return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
  }

  private static String dotted(int a) {
    return (a >>> 24) + "." + ((a >>> 16) & 0xff) + "." + ((a >>> 8) & 0xff) + "." + (a & 0xff);
  }
}
