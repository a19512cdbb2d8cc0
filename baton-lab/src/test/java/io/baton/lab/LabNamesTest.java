package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LabNamesTest {
  @Test
  void namespaceNamesCarryTheOwningPid() {
    String name = LabNames.namespace(4242, 26, "client");
    assertThat(name).isEqualTo("bt4242x1a-client");
    assertThat(LabNames.ownerPid(name)).hasValue(4242);
    assertThat(LabNames.ownerPid("bt4242x1a-switch")).hasValue(4242);
  }

  @Test
  void labDirectoriesCarryTheOwningPid() {
    String dir = LabNames.dirPrefix(4242, "transplant") + "123456";
    assertThat(LabNames.dirOwnerPid(dir)).hasValue(4242);
    assertThat(LabNames.dirOwnerPid("baton-lab-transplant-123")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"client", "bt", "btx1-a", "bt12-a", "bt12x-a", "xbt12x1-a", "bt12xg-a"})
  void foreignNamesAreNotOurs(String name) {
    assertThat(LabNames.ownerPid(name)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Front", "1front", "front-net", "averylongname"})
  void segmentNamesMustFitAnInterfaceName(String name) {
    assertThatThrownBy(() -> LabNames.checkSegmentName(name))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "switch", "Client", "a b", "../etc"})
  void hostNamesAreRestricted(String name) {
    assertThatThrownBy(() -> LabNames.checkHostName(name))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
