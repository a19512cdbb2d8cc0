package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LabAddressTest {
  @ParameterizedTest
  @CsvSource({
    "198.18.0.10/24, 198.18.0.10, 198.18.0.0/24",
    "198.18.0.100/32, 198.18.0.100, 198.18.0.100/32",
    "198.19.255.254/15, 198.19.255.254, 198.18.0.0/15",
    "198.18.9.7/21, 198.18.9.7, 198.18.8.0/21",
  })
  void acceptsAddressesInsideTheBenchmarkRange(String cidr, String host, String network) {
    LabAddress address = LabAddress.parseCidr(cidr);
    assertThat(address.cidrText()).isEqualTo(cidr);
    assertThat(address.hostText()).isEqualTo(host);
    assertThat(address.network().cidrText()).isEqualTo(network);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"10.0.0.1/24", "198.17.255.255/32", "198.20.0.1/24", "127.0.0.1/8", "8.8.8.8/32"})
  void refusesAddressesOutsideTheRange(String cidr) {
    assertThatThrownBy(() -> LabAddress.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside 198.18.0.0/15");
  }

  @ParameterizedTest
  @ValueSource(strings = {"198.18.0.1/14", "198.18.0.1/8", "198.18.0.1/33"})
  void refusesPrefixesThatReachOutsideTheRange(String cidr) {
    assertThatThrownBy(() -> LabAddress.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "198.18.0.1", "198.18.0/24", "198.18.0.256/24", "host/24", "198.18.0.1/24 "})
  void refusesMalformedText(String cidr) {
    assertThatThrownBy(() -> LabAddress.parseCidr(cidr))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.1", "198.18.0.1/24"})
  void plainAddressMustBeInRangeAndWithoutPrefix(String text) {
    assertThatThrownBy(() -> LabAddress.parseHost(text))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
