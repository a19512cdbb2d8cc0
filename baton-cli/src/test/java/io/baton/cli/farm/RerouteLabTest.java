package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Per-request routing of keep-alive connections ({@code reroute: per-request}, issue 10), with the
 * real processes and the sync plane: pool a is s1, pool b is s2, and one keep-alive connection
 * whose requests alternate between /a/ and /b/ gets every answer from its pool's server, in order,
 * without a reset; each switch moves the connection between the servers.
 */
@Tag("lab")
class RerouteLabTest {
  static final String ROUTING =
      """
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
      """
          .formatted(ProcessFarm.VIP);

  @Test
  void everyRequestOfAKeepAliveConnectionIsServedByItsPool() throws Exception {
    int requests = Integer.getInteger("baton.test.rerouteRequests", 200);
    try (ProcessFarm farm =
        new ProcessFarm("reroute", ProcessFarm.Options.DEFAULT.withSync("").routing(ROUTING))) {
      farm.writePoolFiles();
      try {
        farm.startAll();
      } catch (IllegalStateException e) {
        throw new AssertionError(
            e.getMessage()
                + "; s1's log:\n"
                + farm.log("s1")
                + "\nconfig:\n"
                + Files.readString(farm.config("s1")),
            e);
      }
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      io.baton.lab.RstCounter rst = io.baton.lab.RstCounter.install(farm.client);
      List<Long> batonPids =
          List.of(farm.process("d1").pid(), farm.process("s1").pid(), farm.process("s2").pid());
      Run baton = alternate(farm, ProcessFarm.VIP, 80, requests, batonPids);
      long batonRsts = rst.received();
      assertThat(batonRsts).as("RSTs the client received").isZero();
      assertThat(
              farm.metric("s1", "baton_server_reroutes_total{outcome=\"moved\"}")
                  + farm.metric("s2", "baton_server_reroutes_total{outcome=\"moved\"}"))
          .as("moves")
          .isEqualTo(baton.switches);

      // The same requests through HAProxy routing by path (http-reuse always, as its users run it)
      // to the same application listening on its own on s1 and s2.
      List<Long> haproxyPids = new ArrayList<>();
      for (String s : ProcessFarm.SERVERS) {
        String ip = s.equals("s1") ? "198.18.1.11" : "198.18.1.12";
        Process app =
            farm.hosts
                .get(s)
                .start(
                    ProcessLab.baton(
                        "app",
                        "--root",
                        farm.lab.dir().resolve("www-" + s).toString(),
                        "--listen",
                        ip + ":8080",
                        "--name",
                        s,
                        "--threads",
                        "1"));
        haproxyPids.add(app.pid());
        ProcessLab.awaitTrue(
            () ->
                farm.hosts
                    .get(s)
                    .exec("curl", "-s", "http://" + ip + ":8080/a/who.txt")
                    .succeeded(),
            java.time.Duration.ofSeconds(30),
            "the app on " + s);
      }
      Path cfg = farm.lab.dir().resolve("haproxy.cfg");
      Files.writeString(cfg, HAPROXY);
      Process haproxy = farm.d1.start(List.of("haproxy", "-f", cfg.toString()));
      haproxyPids.add(haproxy.pid());
      ProcessLab.awaitTrue(
          () ->
              farm.client
                  .exec("curl", "-s", "http://198.18.0.1:8000/b/who.txt")
                  .stdout()
                  .startsWith("b from s2"),
          java.time.Duration.ofSeconds(30),
          "haproxy");
      Run proxy = alternate(farm, "198.18.0.1", 8000, requests, haproxyPids);
      System.out.printf(
          "reroute: %d requests on one keep-alive connection, alternating pools every 2; Baton: %d"
              + " switches, a switched request median %.2f ms (p90 %.2f), one on the same server %.2f ms (p90 %.2f),"
              + " farm CPU %.0f us per request; HAProxy routing the same: median %.2f ms (p90 %.2f), CPU (haproxy and the"
              + " two apps) %.0f us per request; client RSTs during Baton's run %d%n",
          requests,
          baton.switches,
          baton.switched(0.5),
          baton.switched(0.9),
          baton.same(0.5),
          baton.same(0.9),
          baton.cpuUsPerRequest,
          proxy.all(0.5),
          proxy.all(0.9),
          proxy.cpuUsPerRequest,
          batonRsts);
    }
  }

  static final String HAPROXY =
      """
      global
        nbthread 1
      defaults
        mode http
        option http-keep-alive
        http-reuse always
        timeout connect 5s
        timeout client 30s
        timeout server 30s
      frontend vip
        bind 198.18.0.1:8000
        use_backend b if { path_beg /b/ }
        default_backend a
      backend a
        server s1 198.18.1.11:8080
      backend b
        server s2 198.18.1.12:8080
      """;

  /** Latencies of one keep-alive connection's requests, and the CPU the given processes spent. */
  record Run(long[] switchedUs, long[] sameUs, int switches, double cpuUsPerRequest) {
    double switched(double q) {
      return switchedUs[(int) Math.min(switchedUs.length - 1, switchedUs.length * q)] / 1000.0;
    }

    double same(double q) {
      return sameUs[(int) Math.min(sameUs.length - 1, sameUs.length * q)] / 1000.0;
    }

    double all(double q) {
      long[] both =
          java.util.stream.LongStream.concat(
                  java.util.Arrays.stream(switchedUs), java.util.Arrays.stream(sameUs))
              .sorted()
              .toArray();
      return both[(int) Math.min(both.length - 1, both.length * q)] / 1000.0;
    }
  }

  /**
   * {@code requests} GETs on one keep-alive connection to {@code host:port}, two per pool in a row,
   * each answer checked (right pool, right server, in order).
   */
  private static Run alternate(
      ProcessFarm farm, String host, int port, int requests, List<Long> pids) throws Exception {
    KeepAliveClient c = farm.client.call(() -> new KeepAliveClient(host, port));
    List<Long> switched = new ArrayList<>();
    List<Long> same = new ArrayList<>();
    String last = null;
    long cpu0 = cpuUs(pids);
    for (int i = 0; i < requests; i++) {
      String pool = (i / 2) % 2 == 0 ? "a" : "b";
      long t0 = System.nanoTime();
      String body = farm.client.call(() -> c.get("/" + pool + "/who.txt")).strip();
      long us = (System.nanoTime() - t0) / 1000;
      (last != null && !last.equals(pool) ? switched : same).add(us);
      last = pool;
      if (!body.equals(pool + " from " + (pool.equals("a") ? "s1" : "s2"))) {
        for (String n : ProcessFarm.SERVERS) {
          System.out.println(
              n + " ss: " + farm.hosts.get(n).exec("ss", "-tanoei", "dst", "198.18.0.10").stdout());
          System.out.println(
              n
                  + ": "
                  + farm.log(n)
                      .lines()
                      .filter(
                          l ->
                              l.contains("WARN")
                                  || l.contains("served here")
                                  || l.contains("not moved"))
                      .toList());
        }
      }
      assertThat(body)
          .as("request %d (%s) via %s:%d", i, pool, host, port)
          .isEqualTo(pool + " from " + (pool.equals("a") ? "s1" : "s2"));
    }
    double cpuPerRequest = (cpuUs(pids) - cpu0) / (double) requests;
    farm.client.call(
        () -> {
          c.close();
          return null;
        });
    return new Run(
        switched.stream().mapToLong(Long::longValue).sorted().toArray(),
        same.stream().mapToLong(Long::longValue).sorted().toArray(),
        switched.size(),
        cpuPerRequest);
  }

  /** User and system CPU of the processes so far, in microseconds (/proc/PID/stat, clock ticks). */
  private static long cpuUs(List<Long> pids) throws Exception {
    long ticks = 0;
    for (long pid : pids) {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
    return ticks * 1_000_000 / 100; // USER_HZ
  }
}
