package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostPatternTest {
  @ParameterizedTest(name = "{0} ~ {1} = {2}")
  @CsvSource({
    "api.example.com, api.example.com, true",
    "API.Example.com, api.example.com, true",
    "api.example.com, www.example.com, false",
    "api.example.com, api.example.com.evil, false",
    "*.example.com, a.example.com, true",
    "*.example.com, a.b.example.com, true",
    "*.example.com, example.com, false",
    "*.example.com, aexample.com, false",
    "*.example.com, .example.com, false",
    "*.example.com, a.example.org, false",
    "localhost, localhost, true",
    "198.18.0.100, 198.18.0.100, true",
    "[2001:db8::1], [2001:db8::1], true"
  })
  void matches(String pattern, String host, boolean matches) {
    HostPattern p = new HostPattern(pattern);

    assertThat(p.matches(host)).isEqualTo(matches);
    assertThat(p.isWildcard()).isEqualTo(pattern.startsWith("*."));
  }
}
