package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Table of client addresses a server must refuse to restore, and ones it accepts. */
class ClientAddressPolicyTest {
  private final ClientAddressPolicy policy =
      new ClientAddressPolicy(
          List.of(
              net("198.18.1.0", 24), // fabric
              net("198.18.2.0", 24), // sync
              net("2001:2:0:1::", 64))); // IPv6 fabric

  @Test
  void refusesLoopbackAndFarmInternalClients() throws Exception {
    assertThat(policy.refusal(ip("127.0.0.1")))
        .hasValueSatisfying(r -> assertThat(r).contains("not a remote host"));
    assertThat(policy.refusal(ip("0.0.0.0"))).isPresent();
    assertThat(policy.refusal(ip("224.0.0.1"))).isPresent();
    assertThat(policy.refusal(ip("198.18.1.1")))
        .hasValueSatisfying(r -> assertThat(r).contains("198.18.1.0/24"));
    assertThat(policy.refusal(ip("198.18.2.200")))
        .hasValueSatisfying(r -> assertThat(r).contains("198.18.2.0/24"));
  }

  @Test
  void refusesIpv6LoopbackLinkLocalAndFarmInternalClients() throws Exception {
    assertThat(policy.refusal(ip("::1"))).hasValueSatisfying(r -> assertThat(r).contains("::1"));
    assertThat(policy.refusal(ip("fe80::1"))).isPresent();
    assertThat(policy.refusal(ip("ff02::1"))).isPresent();
    assertThat(policy.refusal(ip("2001:2:0:1::9")))
        .hasValueSatisfying(r -> assertThat(r).contains("2001:2:0:1::/64"));
    assertThat(policy.refusal(ip("2001:2::10"))).isEmpty(); // the front network
    assertThat(policy.refusal(ip("2001:2:0:2::1"))).isEmpty();
  }

  @Test
  void acceptsClientsOutsideTheInternalNetworks() throws Exception {
    assertThat(policy.refusal(ip("198.18.0.10"))).isEmpty(); // the front network
    assertThat(policy.refusal(ip("198.18.3.1"))).isEmpty();
    assertThat(policy.refusal(ip("198.19.255.254"))).isEmpty();
  }

  private static ClientAddressPolicy.Network net(String address, int prefix) {
    return ClientAddressPolicy.Network.of(ip(address), prefix);
  }

  private static InetAddress ip(String s) {
    return InetAddress.ofLiteral(s);
  }
}
