package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.config.ConfigLoader;
import io.baton.dataplane.HostPreparation;
import io.baton.dataplane.VipGuard;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A server host that is not prepared for direct server return is refused with clear lines. */
@Tag("lab")
class HostPreparationLabTest {
  private static final String CONFIG =
      """
      node:
        name: s1
        roles: [server]
        interfaces:
          fabric: { device: fabric, address: 198.18.1.11 }
      cluster:
        key: ee16344407eb88ebdd81e0b29de92448921a96dcfcf14d509f4cae55bb22f677
      server:
        apply-host-preparation: %s
        deliveries:
          - { vip: 198.18.0.100, port: 80, relay: 127.0.0.1:8080 }
      """;

  @Test
  void anUnpreparedHostIsRefusedAndApplyingThePreparationFixesIt() throws Exception {
    try (Lab lab = Lab.create("hostprep")) {
      Host s = lab.host("s");
      s.attach(lab.segment("fabric"), "198.18.1.11/24");
      s.sysctl("net.ipv4.conf.all.rp_filter", "1");
      Inet4Address vip = (Inet4Address) InetAddress.getByName("198.18.0.100");

      List<String> problems = s.call(() -> HostPreparation.check(List.of(vip), "fabric"));
      assertThat(problems)
          .anySatisfy(
              p ->
                  assertThat(p)
                      .contains("VIP 198.18.0.100 is not configured on this host")
                      .contains("ip addr add 198.18.0.100/32 dev lo"));
      assertThat(problems)
          .anySatisfy(
              p -> assertThat(p).startsWith("net.ipv4.conf.all.arp_ignore is 0, needs 1 or 2"));
      assertThat(problems)
          .anySatisfy(p -> assertThat(p).startsWith("net.ipv4.conf.all.arp_announce is 0"));
      assertThat(problems)
          .anySatisfy(p -> assertThat(p).startsWith("net.ipv4.conf.all.rp_filter is 1"));

      var group =
          s.call(
              () -> {
                var g = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
                g.submit(() -> {}).sync();
                return g;
              });
      try {
        var unprepared = ConfigLoader.parse(CONFIG.formatted("false"), "s1.yaml");
        assertThatThrownBy(() -> s.call(() -> ServerAgent.start(unprepared, group)))
            .isInstanceOf(ServerAgent.HostNotReadyException.class)
            .hasMessageContaining("host not prepared for VIP traffic")
            .hasMessageContaining("arp_ignore");
        assertThat(s.exec("nft", "list", "tables").stdout())
            .as("nothing installed on refusal")
            .isEmpty();

        var applying = ConfigLoader.parse(CONFIG.formatted("true"), "s1.yaml");
        ServerAgent agent = s.call(() -> ServerAgent.start(applying, group));
        try {
          assertThat(s.call(() -> HostPreparation.check(List.of(vip), "fabric"))).isEmpty();
          assertThat(s.execOrThrow("ip", "-4", "addr", "show", "dev", "lo").stdout())
              .contains("198.18.0.100/32");
          assertThat(s.execOrThrow("nft", "list", "table", "inet", VipGuard.DEFAULT_TABLE).stdout())
              .contains("socket transparent 1 accept")
              .contains("drop");
        } finally {
          agent.close();
        }
        assertThat(s.exec("nft", "list", "tables").stdout()).as("guard removed on close").isEmpty();
      } finally {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
      }
    }
  }
}
