package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Per-request routing of keep-alive connections ({@code reroute: per-request}, issue 10), with
 * the real processes and the sync plane: pool a is s1, pool b is s2, and one keep-alive
 * connection whose requests alternate between /a/ and /b/ gets every answer from its pool's
 * server, in order, without a reset; each switch moves the connection between the servers.
 */
class RerouteLabTest {
  static final String ROUTING = """
      vips:
        - address: %1$s
          port: 80
          mode: http
          default-pool: a
          reroute: per-request
          rules:
            - { name: to-b, path-prefix: /b/, pool: b }
        - address: %1$s
          port: 443
          mode: http
          default-pool: a
      pools:
        a:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
        b:
          members:
            - { node: s2, fabric-address: 198.18.1.12 }
      """.formatted(ProcessFarm.VIP);

  @Test
  void everyRequestOfAKeepAliveConnectionIsServedByItsPool() throws Exception {
    int requests = Integer.getInteger("baton.test.rerouteRequests", 40);
    try (ProcessFarm farm = new ProcessFarm("reroute", ProcessFarm.Options.DEFAULT.withSync("").routing(ROUTING))) {
      for (String s : ProcessFarm.SERVERS) {
        Path root = farm.lab.dir().resolve("www-" + s);
        for (String dir : List.of("a", "b")) {
          Files.createDirectories(root.resolve(dir));
          Files.writeString(root.resolve(dir).resolve("who.txt"), dir + " from " + s + "\n");
        }
      }
      try {
        farm.startAll();
      } catch (IllegalStateException e) {
        throw new AssertionError(e.getMessage() + "; s1's log:\n" + farm.log("s1") + "\nconfig:\n"
            + Files.readString(farm.config("s1")), e);
      }
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      io.baton.lab.RstCounter rst = io.baton.lab.RstCounter.install(farm.client);
      KeepAliveClient c = farm.client.call(() -> new KeepAliveClient(ProcessFarm.VIP, 80));
      List<String> answers = new ArrayList<>();
      long[] rerouted = new long[requests];
      long[] stayed = new long[requests];
      int nr = 0;
      int ns = 0;
      String last = null;
      for (int i = 0; i < requests; i++) {
        // Two requests per pool in a row: one after a switch, one on the same server.
        String pool = (i / 2) % 2 == 0 ? "a" : "b";
        long t0 = System.nanoTime();
        String body = farm.client.call(() -> c.get("/" + pool + "/who.txt")).strip();
        long us = (System.nanoTime() - t0) / 1000;
        if (last != null && !last.equals(pool)) {
          rerouted[nr++] = us;
        } else {
          stayed[ns++] = us;
        }
        last = pool;
        answers.add(body);
        assertThat(body).as("request %d (%s)", i, pool).isEqualTo(pool + " from " + (pool.equals("a") ? "s1" : "s2"));
      }
      java.util.Arrays.sort(rerouted, 0, nr);
      java.util.Arrays.sort(stayed, 0, ns);
      System.out.printf("reroute: %d requests on one keep-alive connection, %d of them after a switch of pool:"
          + " median %.2f ms (p90 %.2f ms) against %.2f ms (p90 %.2f ms) on the same server; client RSTs %d%n",
          requests, nr, rerouted[nr / 2] / 1000.0, rerouted[nr * 9 / 10] / 1000.0, stayed[ns / 2] / 1000.0,
          stayed[ns * 9 / 10] / 1000.0, rst.received());
      assertThat(rst.received()).as("RSTs the client received").isZero();
      assertThat(farm.metric("s1", "baton_server_reroutes_total{outcome=\"moved\"}")
          + farm.metric("s2", "baton_server_reroutes_total{outcome=\"moved\"}")).as("moves").isEqualTo(nr);
      farm.client.call(() -> {
        c.close();
        return null;
      });
    }
  }
}
