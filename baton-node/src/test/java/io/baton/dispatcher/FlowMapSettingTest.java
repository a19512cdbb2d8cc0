package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/** {@code BATON_FLOW_MAP}: {@link DispatcherNode#flowMapOff}. */
class FlowMapSettingTest {
  @Test
  void unsetEmptyOrAutoAttachesTheMapAndOffTurnsItOff() throws IOException {
    assertThat(DispatcherNode.flowMapOff(null)).isFalse();
    assertThat(DispatcherNode.flowMapOff("")).isFalse();
    assertThat(DispatcherNode.flowMapOff("auto")).isFalse();
    assertThat(DispatcherNode.flowMapOff("off")).isTrue();
  }

  @Test
  void anythingElseIsRefusedByName() {
    assertThatThrownBy(() -> DispatcherNode.flowMapOff("OFF"))
        .isInstanceOf(IOException.class)
        .hasMessage("BATON_FLOW_MAP must be auto or off, got 'OFF'");
    assertThatThrownBy(() -> DispatcherNode.flowMapOff("no"))
        .hasMessage("BATON_FLOW_MAP must be auto or off, got 'no'");
  }
}
