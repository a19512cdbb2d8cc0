package io.baton.cli.bench;

import io.baton.lab.Host;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Starts one benchmark system in the lab and waits until it answers: balancers on lb pinned to CPU
 * 0, Baton server agents and the standalone app on the servers pinned to CPU 1. Baton nodes run as
 * separate JVMs ({@code baton dispatcher|server|app}, see {@link JavaLauncher}), so their CPU time
 * is theirs alone. Start order for Baton: servers, their handoff ports reachable from lb, then the
 * dispatcher, its fabric connections up and the VIP answering. Every start begins with lb's
 * nftables rules cleared ({@link BenchLab#clearBalancerRules}).
 *
 * <p>Confined to the runner's thread.
 */
final class SystemStarter {
  private static final Duration READY = Duration.ofSeconds(30);

  /**
   * Consecutive good answers through the VIP before a system counts as up (round-robin: all
   * servers).
   */
  private static final int GOOD_ANSWERS = 6;

  private final BenchLab lab;
  private final JavaLauncher launcher;
  private final String clusterKey;

  SystemStarter(BenchLab lab, JavaLauncher launcher) {
    this.lab = lab;
    this.launcher = launcher;
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    this.clusterKey = HexFormat.of().formatHex(key);
  }

  RunningSystem start(SystemKind kind) throws IOException, InterruptedException {
    List<BenchProcess> started = new ArrayList<>();
    // Whatever ran before (a Baton dispatcher leaves its forwarding table) must not steer this
    // system's packets.
    lab.clearBalancerRules();
    try {
      return switch (kind) {
        case DIRECT_NGINX ->
            new RunningSystem(
                kind,
                "http://" + BenchLab.frontIp("s1") + ":" + SystemConfigs.NGINX_PORT,
                List.of(),
                List.of());
        case HAPROXY -> haproxy(started);
        case NGINX_PROXY -> nginxProxy(started);
        case BATON_RELAY -> baton(kind, false, started);
        case DIRECT_APP -> directApp(started);
        case BATON_EMBEDDED -> baton(kind, true, started);
      };
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      for (BenchProcess p : started.reversed()) p.stop();
      throw e;
    }
  }

  private RunningSystem haproxy(List<BenchProcess> started)
      throws IOException, InterruptedException {
    Path conf = lab.file("haproxy.cfg");
    Files.writeString(conf, SystemConfigs.haproxy(BenchLab.VIP, BenchLab.serverFabricIps()));
    BenchProcess p =
        BenchProcess.start(
            lab.lb,
            "haproxy on lb",
            CpuSteering.pinned(
                CpuSteering.BALANCER_CPU, List.of("haproxy", "-db", "-f", conf.toString())));
    started.add(p);
    awaitVip(p);
    return new RunningSystem(SystemKind.HAPROXY, vipUrl(), List.of(p), started);
  }

  private RunningSystem nginxProxy(List<BenchProcess> started)
      throws IOException, InterruptedException {
    Path dir = Files.createDirectories(lab.file("nginx-proxy"));
    Path conf = dir.resolve("nginx.conf");
    Files.writeString(
        conf, SystemConfigs.nginxProxy(dir, BenchLab.VIP, BenchLab.serverFabricIps()));
    BenchProcess p =
        BenchProcess.start(
            lab.lb,
            "nginx proxy on lb",
            CpuSteering.pinned(CpuSteering.BALANCER_CPU, List.of("nginx", "-c", conf.toString())));
    started.add(p);
    awaitVip(p);
    return new RunningSystem(SystemKind.NGINX_PROXY, vipUrl(), List.of(p), started);
  }

  private RunningSystem directApp(List<BenchProcess> started)
      throws IOException, InterruptedException {
    String listen = BenchLab.frontIp("s1") + ":" + SystemConfigs.APP_PORT;
    Host s1 = lab.servers.get("s1");
    BenchProcess p =
        BenchProcess.start(
            s1,
            "baton app on s1",
            CpuSteering.pinned(
                CpuSteering.OTHERS_CPU,
                launcher.command(
                    List.of(
                        "app",
                        "--root",
                        lab.webRoot.toString(),
                        "--listen",
                        listen,
                        "--name",
                        "s1",
                        "--threads",
                        "1"))));
    started.add(p);
    String url = "http://" + listen;
    p.awaitReady(
        "answering on " + listen, READY, () -> BenchLab.answers(lab.client, url + "/index.html"));
    return new RunningSystem(SystemKind.DIRECT_APP, url, List.of(), started);
  }

  private RunningSystem baton(SystemKind kind, boolean embedded, List<BenchProcess> started)
      throws IOException, InterruptedException {
    for (String s : BenchLab.SERVERS) {
      Path conf = lab.file("baton-" + s + ".yaml");
      Files.writeString(
          conf,
          SystemConfigs.batonServer(
              s, clusterKey, BenchLab.VIP, BenchLab.fabricIp(s), embedded ? lab.webRoot : null));
      started.add(
          BenchProcess.start(
              lab.servers.get(s),
              "baton server " + s,
              CpuSteering.pinned(
                  CpuSteering.OTHERS_CPU,
                  launcher.command(
                      List.of("server", "--config", conf.toString(), "--threads", "1")))));
    }
    for (int i = 0; i < BenchLab.SERVERS.size(); i++) {
      String address = BenchLab.fabricIp(BenchLab.SERVERS.get(i));
      started
          .get(i)
          .awaitReady(
              "handoff port " + address + ":" + SystemConfigs.HANDOFF_PORT + " reachable from lb",
              READY,
              () -> reachable(lab.lb, address, SystemConfigs.HANDOFF_PORT));
    }
    Path conf = lab.file("baton-lb.yaml");
    Files.writeString(
        conf,
        SystemConfigs.batonDispatcher(
            clusterKey,
            BenchLab.VIP,
            BenchLab.LB_FRONT_IP,
            BenchLab.LB_FABRIC_IP,
            BenchLab.SERVERS,
            BenchLab.serverFabricIps()));
    BenchProcess dispatcher =
        BenchProcess.start(
            lab.lb,
            "baton dispatcher on lb",
            CpuSteering.pinned(
                CpuSteering.BALANCER_CPU,
                launcher.command(
                    List.of("dispatcher", "--config", conf.toString(), "--threads", "1"))));
    started.add(dispatcher);
    // The dispatcher logs "fabric connection to s1 (198.18.1.11:7400) is up" for each server.
    dispatcher.awaitReady(
        "fabric connections to " + BenchLab.SERVERS + " up",
        READY,
        () -> {
          String log = dispatcher.stderr();
          return BenchLab.SERVERS.stream()
              .allMatch(
                  s ->
                      log.contains("fabric connection to " + s + " (")
                          && log.lines()
                              .filter(l -> l.contains("fabric connection to " + s + " ("))
                              .reduce((a, b) -> b)
                              .orElse("")
                              .endsWith("is up"));
        });
    awaitVip(dispatcher);
    return new RunningSystem(
        kind,
        vipUrl(),
        List.of(dispatcher),
        started,
        lab.lb,
        "http://" + SystemConfigs.METRICS_LISTEN + "/metrics");
  }

  /** Waits until {@link #GOOD_ANSWERS} GETs in a row through the VIP answer 200. */
  private void awaitVip(BenchProcess balancer) throws IOException, InterruptedException {
    int[] good = {0};
    String url = vipUrl() + "/index.html";
    balancer.awaitReady(
        GOOD_ANSWERS + " answers in a row from " + url,
        READY,
        () -> {
          good[0] = BenchLab.answers(lab.client, url) ? good[0] + 1 : 0;
          return good[0] >= GOOD_ANSWERS;
        });
  }

  private static String vipUrl() {
    return "http://" + BenchLab.VIP + ":80";
  }

  /** True when a TCP connection from {@code from}'s namespace to address:port succeeds. */
  private static boolean reachable(Host from, String address, int port) {
    try {
      return from.call(
          () -> {
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress(address, port), 500);
              return true;
            } catch (IOException e) {
              return false;
            }
          });
    } catch (Exception e) {
      return false;
    }
  }
}
