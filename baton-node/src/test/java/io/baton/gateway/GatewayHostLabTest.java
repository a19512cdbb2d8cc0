package io.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.Host;
import io.baton.lab.Lab;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A fresh host is not ready for a gateway, and says why with the command that fixes each; apply()
 * makes it ready.
 */
@Tag("lab")
class GatewayHostLabTest {
  @Test
  void anUnpreparedHostNamesWhatIsMissingAndApplyMakesIt() throws Exception {
    try (Lab lab = Lab.create("gwhost")) {
      Host g = lab.host("g");
      List<String> problems = g.call(GatewayHost::problems);
      assertThat(problems).hasSize(4);
      assertThat(problems)
          .anySatisfy(
              p -> assertThat(p).contains("net.ipv4.ip_forward is off").contains("sysctl -w"));
      assertThat(problems)
          .anySatisfy(p -> assertThat(p).contains("tcp_slow_start_after_idle is on"));
      assertThat(problems)
          .anySatisfy(p -> assertThat(p).contains("ip rule add fwmark 0x4247 lookup 4247"));
      assertThat(problems)
          .anySatisfy(
              p -> assertThat(p).contains("ip route add local 0.0.0.0/0 dev lo table 4247"));
      g.call(
          () -> {
            GatewayHost.apply();
            GatewayHost.apply(); // twice: no second rule
            return null;
          });
      assertThat(g.call(GatewayHost::problems)).isEmpty();
      assertThat(
              g.execOrThrow("ip", "-4", "rule", "show")
                  .stdout()
                  .lines()
                  .filter(l -> l.contains("0x4247"))
                  .count())
          .isEqualTo(1);
    }
  }
}
