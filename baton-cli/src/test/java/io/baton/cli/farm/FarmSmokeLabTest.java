package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("lab")
class FarmSmokeLabTest {
  @Test
  void getThroughHandoff() throws Exception {
    try (Farm farm = Farm.start("smoke", Map.of())) {
      var r = farm.curl(Duration.ofSeconds(10), farm.url("/whoami"));
      assertThat(r.stderr()).isEmpty();
      assertThat(r.stdout()).isIn("s2", "s3", "s2\n", "s3\n");
      var s = farm.curl(Duration.ofSeconds(10), farm.url("/static/whoami.txt"));
      assertThat(s.stdout()).isEqualTo("s1\n");
    }
  }
}
