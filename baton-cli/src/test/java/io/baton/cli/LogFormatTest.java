package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogFormatTest {
  @Test
  void onlyTextAndJsonAreLogFormats() {
    assertThat(Baton.logFormatProblem(null)).isNull();
    assertThat(Baton.logFormatProblem("")).isNull();
    assertThat(Baton.logFormatProblem("text")).isNull();
    assertThat(Baton.logFormatProblem("json")).isNull();
    assertThat(Baton.logFormatProblem("JSON"))
        .isEqualTo("BATON_LOG_FORMAT must be text or json, got 'JSON'");
  }
}
