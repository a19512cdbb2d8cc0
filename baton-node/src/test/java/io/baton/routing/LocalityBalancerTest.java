package io.baton.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LocalityBalancerTest {
  private final Map<String, Integer> active = new HashMap<>();
  private final LoadView load = node -> active.getOrDefault(node, 0);

  private static Member member(String node, int host) throws Exception {
    Inet4Address ip = (Inet4Address) InetAddress.getByName("198.18.1." + host);
    return new Member(node, new InetSocketAddress(ip, 7400), ip, 1, false);
  }

  private final LocalityBalancer lard;

  LocalityBalancerTest() throws Exception {
    lard =
        new LocalityBalancer(
            List.of(member("s1", 11), member("s2", 12), member("s3", 13)), load, 25, 65);
  }

  private static PickContext get(String path) throws Exception {
    return new PickContext(
        InetAddress.getByName("198.18.0.10"), Optional.of("www.example.com"), Optional.of(path));
  }

  private String pick(String path) throws Exception {
    return lard.pick(get(path), Set.of()).orElseThrow().node();
  }

  @Test
  void aTargetStaysOnItsServerAndNewTargetsGoToTheLeastLoaded() throws Exception {
    active.putAll(Map.of("s1", 10, "s2", 3, "s3", 7));
    assertThat(pick("/a")).isEqualTo("s2");
    active.put("s2", 20); // busier now, but not overloaded: /a stays
    assertThat(pick("/a")).isEqualTo("s2");
    assertThat(pick("/b")).as("a new target").isEqualTo("s3");
    assertThat(pick("/a")).isEqualTo("s2");
    assertThat(pick("/b")).isEqualTo("s3");
    assertThat(lard.targets()).isEqualTo(2);
  }

  @Test
  void aTargetMovesOnlyWhenItsServerIsOverloaded() throws Exception {
    active.putAll(Map.of("s1", 0, "s2", 30, "s3", 30));
    assertThat(pick("/a")).isEqualTo("s1");
    active.putAll(Map.of("s1", 66, "s2", 30, "s3", 30));
    assertThat(pick("/a")).as("over high, but nobody under low").isEqualTo("s1");
    active.put("s3", 24);
    assertThat(pick("/a")).as("over high and s3 under low").isEqualTo("s3");
    active.putAll(Map.of("s1", 40, "s2", 40, "s3", 130));
    assertThat(pick("/a")).as("at twice high: moves whatever the others carry").isEqualTo("s1");
  }

  @Test
  void anExcludedServerLosesTheTargetAndLayerFourGoesToTheLeastLoaded() throws Exception {
    active.putAll(Map.of("s1", 5, "s2", 1, "s3", 9));
    assertThat(pick("/a")).isEqualTo("s2");
    assertThat(lard.pick(get("/a"), Set.of("s2")).orElseThrow().node()).isEqualTo("s1");
    assertThat(pick("/a")).as("the target moved with the refusal").isEqualTo("s1");
    assertThat(
            lard.pick(PickContext.of(InetAddress.getByName("198.18.0.10")), Set.of())
                .orElseThrow()
                .node())
        .isEqualTo("s2");
    assertThat(lard.pick(get("/a"), Set.of("s1", "s2", "s3"))).isEmpty();
  }
}
