package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.dispatcher.DispatcherNode.FlowMap;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** {@code BATON_FLOW_MAP}: {@link DispatcherNode.FlowMap#parse}. */
class FlowMapSettingTest {
  @Test
  void unsetOrEmptyIsAutoAndTheThreeValuesAreTaken() throws IOException {
    assertThat(FlowMap.parse(null)).isEqualTo(FlowMap.AUTO);
    assertThat(FlowMap.parse("")).isEqualTo(FlowMap.AUTO);
    assertThat(FlowMap.parse("auto")).isEqualTo(FlowMap.AUTO);
    assertThat(FlowMap.parse("on")).isEqualTo(FlowMap.ON);
    assertThat(FlowMap.parse("off")).isEqualTo(FlowMap.OFF);
  }

  @Test
  void anythingElseIsRefusedByName() {
    assertThatThrownBy(() -> FlowMap.parse("OFF"))
        .isInstanceOf(IOException.class)
        .hasMessage("BATON_FLOW_MAP must be auto, on or off, got 'OFF'");
    assertThatThrownBy(() -> FlowMap.parse("no"))
        .hasMessage("BATON_FLOW_MAP must be auto, on or off, got 'no'");
    assertThat(DispatcherNode.flowMapProblem("no"))
        .isEqualTo("BATON_FLOW_MAP must be auto, on or off, got 'no'");
    assertThat(DispatcherNode.flowMapProblem(null)).isNull();
    assertThat(DispatcherNode.flowMapProblem("on")).isNull();
  }
}
