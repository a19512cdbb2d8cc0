package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HostTest {
  @Test
  void cpuMasksAreSysfsWordsHighestFirst() {
    assertThat(Host.cpuMask(1)).isEqualTo("1");
    assertThat(Host.cpuMask(2)).isEqualTo("3");
    assertThat(Host.cpuMask(12)).isEqualTo("fff");
    assertThat(Host.cpuMask(32)).isEqualTo("ffffffff");
    assertThat(Host.cpuMask(33)).isEqualTo("1,ffffffff");
    assertThat(Host.cpuMask(96)).isEqualTo("ffffffff,ffffffff,ffffffff");
    assertThatThrownBy(() -> Host.cpuMask(0)).isInstanceOf(IllegalArgumentException.class);
  }
}
