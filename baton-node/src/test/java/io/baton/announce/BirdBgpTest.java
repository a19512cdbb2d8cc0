package io.baton.announce;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.config.BgpConfig;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The configuration Baton writes for BIRD, and BIRD's own parser's verdict on it (needs bird2). */
@Tag("lab")
class BirdBgpTest {
  private static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void announcesEachVipOnceToEachNeighborAndImportsNothing(@TempDir Path dir) throws Exception {
    BgpConfig c =
        new BgpConfig(
            65001,
            ip("198.18.0.1"),
            List.of(
                new BgpConfig.Neighbor(ip("198.18.0.254"), 65000),
                new BgpConfig.Neighbor(ip("198.18.0.253"), 65002)),
            Duration.ofSeconds(9));
    String conf =
        BirdBgp.configuration(
            c,
            ip("198.18.0.1"),
            List.of(ip("198.18.0.100"), ip("198.18.0.100"), ip("198.18.0.101")),
            dir.resolve("bird.log"));
    assertThat(conf)
        .contains("router id 198.18.0.1;")
        .contains("route 198.18.0.100/32 blackhole;")
        .contains("route 198.18.0.101/32 blackhole;")
        .contains("neighbor 198.18.0.254 as 65000;")
        .contains("neighbor 198.18.0.253 as 65002;")
        .contains("hold time 9;")
        .contains("keepalive time 3;")
        .contains("graceful restart on;")
        .contains("import none; export where proto = \"baton_vips\";")
        .doesNotContain("protocol kernel");
    assertThat(conf.split("route 198.18.0.100/32", -1)).hasSize(2);
    Path file = dir.resolve("bird.conf");
    Files.writeString(file, conf);
    Process p =
        new ProcessBuilder("bird", "-p", "-c", file.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as("bird -p: %s", out).isZero();
  }
}
