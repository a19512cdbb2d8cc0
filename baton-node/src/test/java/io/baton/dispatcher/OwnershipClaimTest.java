package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which servers' ownership news a dispatcher believes (the sync plane's seal aside). */
class OwnershipClaimTest {
  private static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void onlyAConfiguredServerMayClaimAndOnlyForItsOwnFabricAddress() throws Exception {
    Map<String, Inet4Address> servers = Map.of("s1", ip("198.18.1.11"), "s2", ip("198.18.1.12"));
    assertThat(DispatcherNode.claimRefusal(servers, "s1", ip("198.18.1.11"))).isNull();
    assertThat(DispatcherNode.claimRefusal(servers, "s1", ip("198.18.1.12")))
        .isEqualTo("its configured fabric address is 198.18.1.11");
    assertThat(DispatcherNode.claimRefusal(servers, "intruder", ip("198.18.1.66")))
        .isEqualTo("not a server of this dispatcher's pools");
  }
}
