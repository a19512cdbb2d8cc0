package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class FlowKeyTest {
  @Test
  void takesBothFamiliesAndWritesIpv6InBrackets() {
    FlowKey v4 = new FlowKey(ip("198.18.0.10"), 40000, ip("198.18.0.100"), 80);
    FlowKey v6 = new FlowKey(ip("2001:2::10"), 40000, ip("2001:2::100"), 80);
    assertThat(v4.ipv6()).isFalse();
    assertThat(v6.ipv6()).isTrue();
    assertThat(v4).hasToString("198.18.0.10:40000->198.18.0.100:80");
    assertThat(v6).hasToString("[2001:2::10]:40000->[2001:2::100]:80");
    assertThat(FlowKey.of(v6.client(), v6.local())).isEqualTo(v6);
    assertThat(v4.requireIpv4("x")).isSameAs(v4);
    assertThatThrownBy(() -> v6.requireIpv4("the BPF flow forwarder"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("the BPF flow forwarder handles IPv4 connections only");
  }

  @Test
  void refusesMixedFamiliesAndV4MappedAddresses() throws Exception {
    assertThatThrownBy(() -> new FlowKey(ip("198.18.0.10"), 1, ip("2001:2::100"), 80))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("are of different families");
    // Java reads ::ffff:a.b.c.d as IPv4; build the Inet6Address form explicitly.
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = (byte) 198;
    mapped[13] = 18;
    mapped[15] = 10;
    InetAddress m = java.net.Inet6Address.getByAddress(null, mapped, -1);
    assertThatThrownBy(() -> new FlowKey(m, 1, ip("2001:2::100"), 80))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("v4-mapped address");
    assertThatThrownBy(
            () ->
                FlowKey.of(
                    InetSocketAddress.createUnresolved("client", 1),
                    new InetSocketAddress(ip("2001:2::100"), 80)))
        .hasMessageContaining("unresolved");
  }

  private static InetAddress ip(String literal) {
    return InetAddress.ofLiteral(literal);
  }
}
