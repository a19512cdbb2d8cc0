package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** sysctl.d(5)'s key rule: dots or slashes as separators, swapped when the first one is a dot. */
class SysctlPathTest {
  @ParameterizedTest
  @CsvSource({
    "net.ipv4.conf.all.arp_ignore,       /proc/sys/net/ipv4/conf/all/arp_ignore",
    "net/ipv4/conf/all/arp_ignore,       /proc/sys/net/ipv4/conf/all/arp_ignore",
    "net.ipv4.conf.eth0/100.rp_filter,   /proc/sys/net/ipv4/conf/eth0.100/rp_filter",
    "net/ipv4/conf/eth0.100/rp_filter,   /proc/sys/net/ipv4/conf/eth0.100/rp_filter",
    "kernel.ostype,                      /proc/sys/kernel/ostype",
    "vm,                                 /proc/sys/vm",
  })
  void keysMapToProcSysPaths(String key, String path) {
    assertThat(Sysctl.path(key)).isEqualTo(path);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        ".",
        "net..ipv4",
        "net.ipv4.",
        "/net/ipv4",
        "net/../../etc/passwd",
        "net/ipv4/./ip_forward",
        "net.ipv4.conf../rp_filter"
      })
  void keysThatWouldLeaveProcSysAreRefused(String key) {
    assertThatThrownBy(() -> Sysctl.path(key))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("not a sysctl key: \"" + key + "\"");
  }

  @ParameterizedTest
  @CsvSource({
    "fabric,   net.ipv4.conf.fabric.rp_filter",
    "eth0.100, net.ipv4.conf.eth0/100.rp_filter",
  })
  void deviceKeysSurviveTheSwap(String device, String key) {
    assertThat(Sysctl.key("net.ipv4.conf", device, "rp_filter")).isEqualTo(key);
    assertThat(Sysctl.path(key)).isEqualTo("/proc/sys/net/ipv4/conf/" + device + "/rp_filter");
  }
}
