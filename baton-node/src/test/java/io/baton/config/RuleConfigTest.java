package io.baton.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RuleConfigTest {
  @ParameterizedTest
  @CsvSource({
    "api.example.com, api.example.com, true",
    "api.example.com, API.Example.COM, true",
    "api.example.com, www.example.com, false",
    "*.example.com, api.example.com, true",
    "*.example.com, a.b.example.com, true",
    "*.example.com, example.com, false",
    "*.example.com, badexample.com, false",
    "*.Example.com, x.example.com, true",
  })
  void hostAndSniPatterns(String pattern, String name, boolean matches) {
    assertThat(new RuleConfig.Host(pattern).matches(name)).isEqualTo(matches);
    assertThat(new RuleConfig.Sni(pattern).matches(name)).isEqualTo(matches);
  }

  @ParameterizedTest
  @CsvSource({"/img/, /img/a.png, true", "/img/, /img, false", "/, /anything, true"})
  void pathPrefix(String prefix, String path, boolean matches) {
    assertThat(new RuleConfig.PathPrefix(prefix).matches(path)).isEqualTo(matches);
  }
}
