package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LabAddress6Test {
  @ParameterizedTest
  @CsvSource({
    "2001:2::10/64, 2001:2::10, 2001:2::/64",
    "2001:2::100/128, 2001:2::100, 2001:2::100/128",
    "2001:2:0:1::2/64, 2001:2:0:1::2, 2001:2:0:1::/64",
    "2001:0002:0000:ffff::1/48, 2001:2:0:ffff::1, 2001:2::/48",
    "2001:2:0:12::1/63, 2001:2:0:12::1, 2001:2:0:12::/63",
  })
  void acceptsAddressesInsideTheBenchmarkRange(String cidr, String host, String network) {
    LabAddress6 address = LabAddress6.parseCidr(cidr);
    assertThat(address.hostText()).isEqualTo(host);
    assertThat(address.cidrText()).isEqualTo(host + "/" + address.prefixLength());
    assertThat(address.network().cidrText()).isEqualTo(network);
    assertThat(address.inetAddress().getAddress()).isEqualTo(address.address());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"2001:db8::1/64", "2001:3::1/64", "2001:2:1::1/64", "fe80::1/64", "::1/128"})
  void refusesAddressesOutsideTheRange(String cidr) {
    assertThatThrownBy(() -> LabAddress6.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside 2001:2::/48");
  }

  @ParameterizedTest
  @ValueSource(strings = {"2001:2::1/47", "2001:2::1/16", "2001:2::1/129"})
  void refusesPrefixesThatReachOutsideTheRange(String cidr) {
    assertThatThrownBy(() -> LabAddress6.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "2001:2::1", "2001:2:::1/64", "2001:2::g/64", "host/64", "2001:2::1/64 "})
  void refusesMalformedText(String cidr) {
    assertThatThrownBy(() -> LabAddress6.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesV4MappedAddresses() {
    assertThatThrownBy(() -> LabAddress6.parseHost("::ffff:198.18.0.1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("v4-mapped");
  }

  @Test
  void parsesPlainHostsAsSlash128AndRefusesAPrefixThere() {
    assertThat(LabAddress6.parseHost("2001:2::100").cidrText()).isEqualTo("2001:2::100/128");
    assertThatThrownBy(() -> LabAddress6.parseHost("2001:2::100/64"))
        .hasMessageContaining("has a prefix length");
    assertThat(LabAddress6.looksLikeIpv6("2001:2::1")).isTrue();
    assertThat(LabAddress6.looksLikeIpv6("198.18.0.1")).isFalse();
  }
}
