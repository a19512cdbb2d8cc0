package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("lab")
class LinuxProbeTest {
  /** The tests run as root with libnftables installed and native access enabled. */
  @Test
  void thisHostHasNoProblems() {
    assertThat(LinuxProbe.problems()).isEmpty();
    assertThat(LinuxProbe.isAvailable()).isTrue();
  }
}
