package io.baton.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
  @ParameterizedTest
  @CsvSource({
    "500ms, PT0.5S",
    "5s, PT5S",
    "2m, PT2M",
    "1h, PT1H",
    "0s, PT0S",
    "90s, PT1M30S",
    "1500ms, PT1.5S",
  })
  void parsesOneNumberAndOneUnit(String text, Duration expected) {
    assertThat(Durations.parse(text)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {"5", "5 s", "1.5s", "-1s", "1m30s", "5sec", "s", "", "1d", "PT5S"})
  void refusesAnythingElse(String text) {
    assertThatThrownBy(() -> Durations.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("must be a duration such as 500ms, 5s, 2m or 1h, got '" + text + "'");
  }

  @ParameterizedTest
  @CsvSource({"500ms, 500ms", "2000ms, 2s", "90s, 90s", "120s, 2m", "3600s, 1h", "0s, 0s"})
  void formatsInTheShortestExactUnit(String text, String formatted) {
    assertThat(Durations.format(Durations.parse(text))).isEqualTo(formatted);
  }
}
