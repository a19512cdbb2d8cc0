package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which servers' ownership news a dispatcher believes (the sync plane's seal aside). */
class OwnershipClaimTest {
  private static InetAddress ip(String s) {
    return InetAddress.ofLiteral(s);
  }

  @Test
  void onlyAConfiguredServerMayClaimAndOnlyForItsOwnFabricAddress() {
    Map<String, List<InetAddress>> servers =
        Map.of("s1", List.of(ip("198.18.1.11")), "s2", List.of(ip("198.18.1.12")));
    assertThat(DispatcherNode.claimRefusal(servers, Map.of(), "s1", ip("198.18.1.11"))).isNull();
    assertThat(DispatcherNode.claimRefusal(servers, Map.of(), "s1", ip("198.18.1.12")))
        .isEqualTo("its configured fabric address is 198.18.1.11");
    assertThat(DispatcherNode.claimRefusal(servers, Map.of(), "intruder", ip("198.18.1.66")))
        .isEqualTo("not a server of this dispatcher's pools");
  }

  @Test
  void aDualStackServerMayClaimForItsAddressOfEitherFamily() {
    Map<String, List<InetAddress>> servers =
        Map.of("s1", List.of(ip("2001:2:0:1::11"), ip("198.18.1.11")));
    assertThat(DispatcherNode.claimRefusal(servers, Map.of(), "s1", ip("198.18.1.11"))).isNull();
    assertThat(DispatcherNode.claimRefusal(servers, Map.of(), "s1", ip("198.18.1.12")))
        .isEqualTo("its configured fabric address is 2001:2:0:1::11 and 198.18.1.11");
  }

  @Test
  void aDiscoveredServerMayClaimForItsSessionAddress() {
    Map<String, InetAddress> sessions = Map.of("s3", ip("198.18.1.13"));
    assertThat(DispatcherNode.claimRefusal(Map.of(), sessions, "s3", ip("198.18.1.13"))).isNull();
    assertThat(DispatcherNode.claimRefusal(Map.of(), sessions, "s3", ip("198.18.1.11")))
        .isEqualTo("its configured fabric address is 198.18.1.13");
  }
}
