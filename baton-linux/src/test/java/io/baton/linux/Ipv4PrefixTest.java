package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** Network membership, at the edges of the prefix lengths. */
class Ipv4PrefixTest {
  private static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void containsWhatItsPrefixCovers() throws Exception {
    Ipv4Prefix net = new Ipv4Prefix(ip("198.18.7.0"), 24);
    assertThat(net.contains(ip("198.18.7.10"))).isTrue();
    assertThat(net.contains(ip("198.18.7.255"))).isTrue();
    assertThat(net.contains(ip("198.18.6.255"))).isFalse();
    assertThat(net.contains(ip("198.18.8.0"))).isFalse();
    assertThat(new Ipv4Prefix(ip("0.0.0.0"), 0).contains(ip("203.0.113.1"))).isTrue();
    assertThat(new Ipv4Prefix(ip("198.18.7.10"), 32).contains(ip("198.18.7.10"))).isTrue();
    assertThat(new Ipv4Prefix(ip("198.18.7.10"), 32).contains(ip("198.18.7.11"))).isFalse();
    assertThat(new Ipv4Prefix(ip("200.0.0.0"), 1).contains(ip("129.0.0.1")))
        .isTrue(); // the sign bit
    assertThat(new Ipv4Prefix(ip("200.0.0.0"), 1).contains(ip("127.0.0.1"))).isFalse();
  }
}
