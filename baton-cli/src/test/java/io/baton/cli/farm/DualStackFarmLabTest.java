package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real processes ({@code baton dispatcher|server --config}) serve an IPv6 VIP beside an IPv4
 * one on a dual-stack farm ({@link DualStackFarm}): downloads, uploads, keep-alive and TLS on
 * 2001:2::100 are handed off over an IPv6 fabric and answered directly by the servers, the IPv4 VIP
 * keeps working, and the client never sees a reset.
 */
@Tag("lab")
class DualStackFarmLabTest {
  private static final Duration CURL = Duration.ofSeconds(60);
  private static final String HANDOFFS = "baton_dispatcher_handoffs_total";

  @Test
  void servesAnIpv6VipBesideAnIpv4OneThroughTheRealProcesses() throws Exception {
    try (DualStackFarm farm = new DualStackFarm("ds-ipv6").startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      String bigSha = sha256(farm.bigFile);

      // Both servers answer on the IPv6 VIP, round robin; the IPv4 VIP answers too.
      List<String> answers = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        CommandResult r = farm.curl(CURL, DualStackFarm.url6("/whoami.txt"));
        assertThat(r.exitCode()).as("curl: %s\n%s", r.stderr(), farm.log("d1")).isZero();
        answers.add(r.stdout().strip());
      }
      assertThat(answers)
          .as("answers; d1's log:\n%s", farm.log("d1"))
          .containsOnly("s1", "s2")
          .contains("s1", "s2");
      CommandResult v4 = farm.curl(CURL, DualStackFarm.url4("/whoami.txt"));
      assertThat(v4.exitCode()).as("IPv4 VIP: %s", v4.stderr()).isZero();
      assertThat(v4.stdout().strip()).isIn("s1", "s2");

      // Neighbour discovery: the servers hold 2001:2::100 on lo and sit on the client's segment,
      // yet only d1 answers a solicitation for it (Linux answers only for addresses of the
      // interface the solicitation came in on).
      long advertised = neighbourAdvertisements(farm);
      farm.client.execOrThrow("ip", "-6", "neigh", "flush", "dev", "front");
      farm.client.execOrThrow("ping", "-6", "-c", "1", "-W", "2", DualStackFarm.VIP6);
      String neighbour =
          farm.client
              .execOrThrow("ip", "-6", "neigh", "show", DualStackFarm.VIP6, "dev", "front")
              .stdout();
      String d1Mac = farm.d1.execOrThrow("cat", "/sys/class/net/front/address").stdout().strip();
      assertThat(neighbour).as("the client's neighbour entry for the IPv6 VIP").contains(d1Mac);
      assertThat(neighbourAdvertisements(farm))
          .as("neighbour advertisements the servers sent")
          .isEqualTo(advertised);

      // Handoff time of IPv6 connections against IPv4 ones (the dispatcher's histogram).
      Timing t6 = timing(farm, DualStackFarm.url6("/whoami.txt"));
      Timing t4 = timing(farm, DualStackFarm.url4("/whoami.txt"));
      System.out.printf(
          "handoff time, mean of %d connections: IPv6 %.1f us, IPv4 %.1f us%n",
          t6.count(), t6.meanMicros(), t4.meanMicros());

      // 100 MiB GET, byte for byte.
      Path out = farm.lab.dir().resolve("big6.out");
      CommandResult get = farm.curl(CURL, "-o", out.toString(), DualStackFarm.url6("/big.bin"));
      assertThat(get.exitCode()).as("GET: %s", get.stderr()).isZero();
      assertThat(sha256(out)).as("100 MiB over IPv6").isEqualTo(bigSha);
      Files.delete(out);

      // 50 MiB POST to /echo, echoed byte for byte (no Expect: the body follows the head at once).
      Path upload = farm.lab.dir().resolve("upload.bin");
      Files.copy(farm.bigFile, upload);
      try (var ch =
          java.nio.channels.FileChannel.open(upload, java.nio.file.StandardOpenOption.WRITE)) {
        ch.truncate(50L << 20);
      }
      Path echoed = farm.lab.dir().resolve("echoed.bin");
      CommandResult post = farm.curl(CURL, Curl.post(upload, echoed, DualStackFarm.url6("/echo")));
      assertThat(post.exitCode()).as("POST: %s", post.stderr()).isZero();
      assertThat(sha256(echoed)).as("50 MiB POST echoed over IPv6").isEqualTo(sha256(upload));

      // Keep-alive: curl reuses one connection for several URLs; one handoff carries them all.
      double before = farm.metric("d1", HANDOFFS);
      CommandResult keepAlive =
          farm.curl(
              CURL,
              "-w",
              "%{num_connects}\\n",
              DualStackFarm.url6("/whoami.txt"),
              DualStackFarm.url6("/whoami.txt"),
              DualStackFarm.url6("/whoami.txt"));
      assertThat(keepAlive.exitCode()).as("keep-alive: %s", keepAlive.stderr()).isZero();
      List<String> lines = keepAlive.stdout().lines().toList();
      assertThat(lines).hasSize(6);
      assertThat(lines.get(0)).isIn("s1", "s2");
      assertThat(List.of(lines.get(2), lines.get(4))).containsOnly(lines.get(0));
      assertThat(List.of(lines.get(1), lines.get(3), lines.get(5)))
          .as("connections curl opened per request")
          .containsExactly("1", "0", "0");
      assertThat(farm.metric("d1", HANDOFFS) - before)
          .as("handoffs for three requests")
          .isEqualTo(1);

      // TLS on 2001:2::100:443, routed by SNI, relayed to nginx's TLS on the server.
      CommandResult tls =
          farm.curl(
              CURL,
              "--cacert",
              farm.caCert.toString(),
              "--resolve",
              DualStackFarm.TLS_NAME + ":443:[" + DualStackFarm.VIP6 + "]",
              "https://" + DualStackFarm.TLS_NAME + "/whoami.txt");
      assertThat(tls.exitCode()).as("TLS: %s\n%s", tls.stderr(), farm.log("d1")).isZero();
      assertThat(tls.stdout().strip()).isIn("s1", "s2");

      // An IPv6 relay upstream ([::1]:8080, nginx).
      CommandResult relayed =
          farm.curl(CURL, "http://[" + DualStackFarm.VIP6 + "]:8080/whoami.txt");
      assertThat(relayed.exitCode()).as("relay: %s", relayed.stderr()).isZero();
      assertThat(relayed.stdout().strip()).isIn("s1", "s2");

      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
    }
  }

  /** Neighbour advertisements s1 and s2 have sent so far. */
  private static long neighbourAdvertisements(DualStackFarm farm) {
    long n = 0;
    for (String s : DualStackFarm.SERVERS) {
      // /proc/net/snmp6 is one "Name value" line per counter.
      String snmp6 = farm.hosts.get(s).execOrThrow("cat", "/proc/net/snmp6").stdout();
      n +=
          snmp6
              .lines()
              .map(l -> l.trim().split("\\s+"))
              .filter(f -> f[0].equals("Icmp6OutNeighborAdvertisements"))
              .mapToLong(f -> Long.parseLong(f[1]))
              .findFirst()
              .orElseThrow();
    }
    return n;
  }

  private record Timing(long count, double meanMicros) {}

  /** Ten connections to {@code url}, and the mean of their handoff times on d1. */
  private static Timing timing(DualStackFarm farm, String url) {
    var m0 = farm.metrics("d1");
    for (int i = 0; i < 10; i++) {
      CommandResult r = farm.curl(CURL, "-o", "/dev/null", url);
      assertThat(r.exitCode()).as("curl %s: %s", url, r.stderr()).isZero();
    }
    var m1 = farm.metrics("d1");
    double sum =
        m1.getOrDefault("baton_dispatcher_handoff_seconds_sum", 0.0)
            - m0.getOrDefault("baton_dispatcher_handoff_seconds_sum", 0.0);
    double count =
        m1.getOrDefault("baton_dispatcher_handoff_seconds_count", 0.0)
            - m0.getOrDefault("baton_dispatcher_handoff_seconds_count", 0.0);
    assertThat(count).as("handoffs timed for %s", url).isEqualTo(10);
    return new Timing((long) count, sum / count * 1e6);
  }
}
