package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IpTextTest {
  @ParameterizedTest
  @CsvSource({
    "2001:2:0:0:0:0:0:100, 2001:2::100",
    "2001:0002:0000:0001:0000:0000:0000:0001, 2001:2:0:1::1",
    "0:0:0:0:0:0:0:1, ::1",
    "0:0:0:0:0:0:0:0, ::",
    "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
    "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",
    "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
    "fe80:0:0:0:0:0:0:0, fe80::",
    "2001:DB8:AB:0:0:0:0:0, 2001:db8:ab::",
    "198.18.0.1, 198.18.0.1",
  })
  void writesTheCanonicalForm(String literal, String expected) {
    assertThat(IpText.of(InetAddress.ofLiteral(literal))).isEqualTo(expected);
  }

  @ParameterizedTest
  @CsvSource({"2001:2::100, 80, [2001:2::100]:80", "198.18.0.1, 443, 198.18.0.1:443"})
  void bracketsIpv6WithAPort(String literal, int port, String expected) {
    assertThat(IpText.withPort(InetAddress.ofLiteral(literal), port)).isEqualTo(expected);
  }
}
