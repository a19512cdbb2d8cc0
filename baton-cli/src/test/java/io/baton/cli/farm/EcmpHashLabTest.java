package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The lab's ECMP router picks a dispatcher from the packet's headers, as a real router does: one
 * 4-tuple, connected again and again (each time a new socket), always reaches the same dispatcher,
 * and the client's ports spread over both. With {@code fib_multipath_hash_policy=1} it did not:
 * across a veth the router took the client socket's own random hash (6 of 10 ports did not reach
 * one dispatcher in all three rounds), which TCP draws anew after a retransmission timeout, so a
 * retransmitted packet could land on the other dispatcher (see {@link EcmpFarm}).
 */
@Tag("lab")
class EcmpHashLabTest {
  /** One farm for both tests (a farm's start is most of their time). */
  private static EcmpFarm farm;

  @BeforeAll
  static void startFarm() throws Exception {
    farm = new EcmpFarm("ecmp-hash").startAll();
  }

  @AfterAll
  static void stopFarm() throws Exception {
    if (farm != null) farm.close();
  }

  @Test
  void oneFourTupleAlwaysReachesOneDispatcher() throws Exception {
    Map<Integer, List<String>> byPort = new TreeMap<>();
    for (int round = 0; round < 3; round++) {
      for (int port = 40000; port < 40010; port++) {
        double d1 = farm.handoffs("d1");
        double d2 = farm.handoffs("d2");
        int local = port;
        String body =
            farm.client.call(
                () -> {
                  // The client reads to the server's FIN before it closes: no TIME_WAIT here,
                  // so the next round can bind the same port.
                  try (java.net.Socket sk = new java.net.Socket()) {
                    sk.setReuseAddress(true);
                    sk.bind(new java.net.InetSocketAddress(local));
                    sk.connect(new java.net.InetSocketAddress(EcmpFarm.VIP, 80), 5000);
                    sk.setSoTimeout(5000);
                    sk.getOutputStream()
                        .write(
                            ("GET /whoami.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    return new String(
                        sk.getInputStream().readAllBytes(),
                        java.nio.charset.StandardCharsets.US_ASCII);
                  }
                });
        assertThat(body).contains("200");
        String[] which = new String[1];
        ProcessLab.awaitTrue(
            () -> {
              if (farm.handoffs("d1") > d1) which[0] = "d1";
              else if (farm.handoffs("d2") > d2) which[0] = "d2";
              return which[0] != null;
            },
            java.time.Duration.ofSeconds(5),
            "the handoff of the connection from port " + port);
        byPort.computeIfAbsent(port, p -> new ArrayList<>()).add(which[0]);
      }
    }
    System.out.println("ecmp hash: client port -> dispatcher per round: " + byPort);
    assertThat(byPort.values())
        .as("each client port's dispatcher, round by round")
        .allMatch(l -> l.stream().distinct().count() == 1 && l.get(0) != null);
    assertThat(byPort.values().stream().map(l -> l.get(0)).distinct())
        .as("the ports spread over both dispatchers")
        .containsExactlyInAnyOrder("d1", "d2");
  }

  /**
   * The router drops each connection's first request twice (the client's third and fourth packets
   * by the router's conntrack count: the request and its tail-loss probe), so the client sends it
   * again only at its retransmission timeout, when TCP draws a new hash for the socket: every
   * request is still answered, by the dispatcher that accepted its connection. With policy 1 the
   * router followed the new hash: 9 of 12 requests were reset by the other dispatcher, which has no
   * such connection, and the accepting one closed one as slow (no byte within its first-byte
   * timeout), the signature of the take-over test's rare failure. Dropping the request once
   * recovers by the tail-loss probe, which keeps the hash.
   */
  @Test
  void aFirstRequestRetransmittedAfterItsTimeoutReachesTheDispatcherThatAcceptedIt()
      throws Exception {
    farm.router.execOrThrow(
        "nft",
        "add table inet rto; add chain inet rto drops { type filter hook forward priority 0; };"
            + " add rule inet rto drops ip daddr "
            + EcmpFarm.VIP
            + " tcp dport 80 ct original packets 3-4 counter drop");
    int requests = 12;
    List<String> failures = new ArrayList<>();
    long slowest = 0;
    String rules;
    try {
      // Conntrack counts packets only with accounting on (its sysctl exists once the rule above
      // has loaded conntrack).
      farm.router.sysctl("net.netfilter.nf_conntrack_acct", "1");
      for (int i = 0; i < requests; i++) {
        long start = System.nanoTime();
        var r =
            farm.client.exec(
                List.of(
                    "curl",
                    "-sS",
                    "--max-time",
                    "10",
                    "-H",
                    "Connection: close",
                    "http://" + EcmpFarm.VIP + "/whoami.txt"),
                java.time.Duration.ofSeconds(15));
        slowest = Math.max(slowest, (System.nanoTime() - start) / 1_000_000);
        if (r.exitCode() != 0) failures.add(r.stderr().strip());
      }
      rules = farm.router.execOrThrow("nft", "list table inet rto").stdout();
    } finally {
      // The other test shares the farm: its connections are not to be dropped.
      farm.router.exec("nft", "delete", "table", "inet", "rto");
    }
    // The client's own count (absolute, its namespace is the farm's): each request was sent
    // again at a timeout that drew a new hash, so the test tested what it says.
    String nstat =
        farm.client
            .exec("nstat", "-saz", "TcpExtTCPTimeouts", "TcpExtTcpTimeoutRehash")
            .stdout()
            .replaceAll("\\s+", " ");
    java.util.regex.Matcher rehash =
        java.util.regex.Pattern.compile("TcpExtTcpTimeoutRehash (\\d+)").matcher(nstat);
    assertThat(rehash.find()).as(nstat).isTrue();
    System.out.println("client: " + nstat);
    java.util.regex.Matcher dropped =
        java.util.regex.Pattern.compile("counter packets (\\d+)").matcher(rules);
    assertThat(dropped.find()).as(rules).isTrue();
    System.out.printf(
        "ecmp: %d first requests and probes dropped by the router, each sent again at its"
            + " timeout; %d failed %s;"
            + " slowest %d ms; dispatchers' slow closes d1 %.0f, d2 %.0f%n",
        Long.parseLong(dropped.group(1)),
        failures.size(),
        failures,
        slowest,
        farm.metric("d1", "baton_dispatcher_answered_total{reason=\"slow\"}"),
        farm.metric("d2", "baton_dispatcher_answered_total{reason=\"slow\"}"));
    assertThat(Long.parseLong(dropped.group(1)))
        .as("first requests and their probes dropped")
        .isEqualTo(2L * requests);
    assertThat(Long.parseLong(rehash.group(1)))
        .as("the client's timeouts that drew a new hash")
        .isGreaterThanOrEqualTo(requests);
    assertThat(failures).as("requests whose retransmission went astray").isEmpty();
  }
}
