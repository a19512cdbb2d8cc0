package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.ctl;
import static io.baton.cli.farm.FarmChecks.whoAnswered;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Several workers behind one VIP port on a server (issue 12): real {@code baton dispatcher|server
 * --config} processes, four unmodified nginx workers on each server (127.0.0.1:8081-8084, each
 * answering {@code /whoami.txt} with its own name), curl and wrk on the client.
 */
@Tag("lab")
class WorkerPoolLabTest {
  private static final String WORKERS =
      "workers: { balance: least-connections, members: ["
          + "{ name: w1, address: 127.0.0.1:8081 }, { name: w2, address: 127.0.0.1:8082 },"
          + " { name: w3, address: 127.0.0.1:8083 }, { name: w4, address: 127.0.0.1:8084 } ], direct: {address}:80 }";

  @Test
  void connectionsSpreadOverWorkersAKilledWorkerCostsNothingAndWeightsChangeUnderLoad()
      throws Exception {
    try (ProcessFarm farm =
        new ProcessFarm("workers", ProcessFarm.Options.DEFAULT.port80(WORKERS))) {
      Map<String, Process> nginx = new HashMap<>();
      for (String s : ProcessFarm.SERVERS) {
        for (int w = 1; w <= 4; w++) {
          Path root = Files.createDirectories(farm.lab.dir().resolve("www-" + s + "-w" + w));
          Files.writeString(root.resolve("whoami.txt"), s + "-w" + w + "\n");
          Files.createLink(root.resolve("big.bin"), farm.bigFile);
          nginx.put(
              s + "-w" + w,
              Nginx.startWorker(farm.hosts.get(s), farm.lab.dir(), s + "-w" + w, root, 8080 + w));
        }
      }
      farm.startAll();

      // 1. New connections spread over the four workers of each server.
      Map<String, Integer> seen = whoAnswered(farm, 80, ProcessFarm.VIP);
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(80);
      for (String s : ProcessFarm.SERVERS) {
        for (int w = 1; w <= 4; w++)
          assertThat(seen).as("every worker got connections: " + seen).containsKey(s + "-w" + w);
      }

      // 1b. Connections to a server's own address (direct: 198.18.0.11:80) reach its workers by the
      //     kernel's DNAT: spread by weight, byte-exact, and not one of them passes through the
      // agent.
      CommandResult before = ctl(farm, "s1", "workers");
      seen = whoAnswered(farm, 60, "198.18.0.11");
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(60);
      assertThat(seen.keySet())
          .as("direct connections spread: " + seen)
          .containsExactlyInAnyOrder("s1-w1", "s1-w2", "s1-w3", "s1-w4");
      Path direct = farm.lab.dir().resolve("direct.bin");
      CommandResult big =
          farm.client.exec(
              List.of(
                  "curl",
                  "-sS",
                  "-f",
                  "-m",
                  "60",
                  "-o",
                  direct.toString(),
                  "http://198.18.0.11/big.bin"),
              Duration.ofSeconds(70));
      assertThat(big.exitCode()).as(big.stderr()).isZero();
      assertThat(FarmChecks.sha256(direct)).isEqualTo(FarmChecks.sha256(farm.bigFile));
      assertThat(connectionCounts(ctl(farm, "s1", "workers")))
          .as("the agent relayed none of them")
          .isEqualTo(connectionCounts(before));

      // 2. A worker killed: its own connections fail at once while the other workers' go on; no new
      //    request fails, none reaches it; the pool says it is down. Four slow downloads are in
      //    flight, those on s1 all on w2 (the others drained for the moment).
      for (String w : List.of("w1", "w3", "w4")) ctl(farm, "s1", "workers", w, "drain");
      List<Process> slow = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        slow.add(
            farm.client.start(
                List.of(
                    "curl",
                    "-sS",
                    "-f",
                    "-m",
                    "120",
                    "--limit-rate",
                    "4M",
                    "-o",
                    "/dev/null",
                    ProcessFarm.url("/big.bin"))));
      }
      ProcessLab.awaitTrue(
          () ->
              active(farm, "s1").getOrDefault("w2", 0)
                      + active(farm, "s2").values().stream().mapToInt(Integer::intValue).sum()
                  == 4,
          Duration.ofSeconds(10),
          "the four downloads to reach the workers");
      int onW2 = active(farm, "s1").get("w2");
      assertThat(onW2).as("downloads on s1-w2").isPositive();
      // Nothing that starts a JVM (a 'baton ctl', seconds on a loaded host) runs from here until
      // the downloads are checked: they last ~26 s and must still be running then.
      Process dead = nginx.get("s1-w2");
      Nginx.kill(dead); // master and worker (SIGKILL)
      ProcessLab.awaitTrue(
          () ->
              farm.hosts
                      .get("s1")
                      .exec("curl", "-s", "-m", "1", "http://127.0.0.1:8082/")
                      .exitCode()
                  != 0,
          Duration.ofSeconds(10),
          "s1-w2's port to close");
      // A killed process's sockets still send what it had written (the kernel finishes an orphaned
      // socket's queue, then FINs): the client gets those bytes, then the cut, an error (curl: 18,
      // short of Content-Length). At 4 MB/s the ~20 MB queued in the socket buffers on the way take
      // a few seconds; nothing waits for a timeout.
      long killedAt = System.nanoTime();
      ProcessLab.awaitTrue(
          () -> slow.stream().filter(p -> !p.isAlive()).count() == onW2,
          Duration.ofSeconds(30),
          "the killed worker's " + onW2 + " download(s) to fail");
      System.out.printf(
          "killed worker's downloads ended after %d ms; exit codes %s%n",
          (System.nanoTime() - killedAt) / 1_000_000,
          slow.stream().filter(p -> !p.isAlive()).map(Process::exitValue).toList());
      for (Process p : slow) {
        if (!p.isAlive())
          assertThat(p.exitValue())
              .as("a cut download is an error, never a clean short body")
              .isNotZero();
      }
      assertThat(slow.stream().filter(Process::isAlive).count())
          .as("the other workers' downloads go on")
          .isEqualTo(4 - onW2);
      slow.forEach(Process::destroy);
      for (String w : List.of("w1", "w3", "w4")) ctl(farm, "s1", "workers", w, "undrain");
      seen = whoAnswered(farm, 40, ProcessFarm.VIP);
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
      assertThat(seen).doesNotContainKey("s1-w2");
      CommandResult list =
          farm.cli("s1", "ctl", "--config", farm.config("s1").toString(), "workers");
      assertThat(list.stdout()).as(list.stderr()).containsPattern("w2\\s+127.0.0.1:8082\\s+1 down");
      awaitDnatWithout(farm, "s1", "127.0.0.1 . 8082");
      seen = whoAnswered(farm, 40, "198.18.0.11");
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(40);
      assertThat(seen).as("the kernel's DNAT left the dead worker out").doesNotContainKey("s1-w2");

      // 3. Blue/green under load: w1 and w3 go to weight 0 on both servers while wrk runs.
      // The load lasts until the four changes have answered (each a JVM: a fixed -d4s once ended
      // before the first).
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(90),
              "http://" + ProcessFarm.VIP + "/whoami.txt",
              "-t1",
              "-c8",
              "-H",
              "Connection: close");
      for (String s : ProcessFarm.SERVERS) {
        for (String w : List.of("w1", "w3")) {
          CommandResult r =
              farm.cli(
                  s, "ctl", "--config", farm.config(s).toString(), "workers", w, "weight", "0");
          assertThat(r.exitCode()).as(r.stderr()).isZero();
        }
      }
      assertThat(wrk.running()).as("wrk still loading after the last weight change").isTrue();
      String wrkOut = wrk.stop();
      assertThat(wrkOut)
          .as(wrkOut)
          .contains("requests in")
          .doesNotContain("Socket errors")
          .doesNotContain("Non-2xx");
      double preconnected = 0;
      for (String s : ProcessFarm.SERVERS) {
        preconnected += farm.metric(s, "baton_server_relay_preconnects_total{result=\"used\"}");
      }
      assertThat(preconnected)
          .as("relayed connections that took a worker connection opened ahead of them")
          .isPositive();
      seen = whoAnswered(farm, 40, ProcessFarm.VIP);
      assertThat(seen.keySet())
          .as("after the switch only w2 and w4 take new connections")
          .allMatch(k -> k.endsWith("-w2") || k.endsWith("-w4"));
      awaitDnatWithout(farm, "s2", "127.0.0.1 . 8081");
      awaitDnatWithout(farm, "s2", "127.0.0.1 . 8083");
      seen = whoAnswered(farm, 40, "198.18.0.12");
      assertThat(seen.keySet())
          .as("the DNAT map follows the weights: " + seen)
          .containsExactlyInAnyOrder("s2-w2", "s2-w4");

      // 4. A worker added at run time takes connections; removed, it takes none.
      Path root5 = Files.createDirectories(farm.lab.dir().resolve("www-s1-w5"));
      Files.writeString(root5.resolve("whoami.txt"), "s1-w5\n");
      Nginx.startWorker(farm.hosts.get("s1"), farm.lab.dir(), "s1-w5", root5, 8085);
      CommandResult add =
          farm.cli(
              "s1",
              "ctl",
              "--config",
              farm.config("s1").toString(),
              "workers",
              "w5",
              "add",
              "127.0.0.1:8085",
              "3");
      assertThat(add.exitCode()).as(add.stderr()).isZero();
      assertThat(add.stdout()).containsPattern("w5\\s+127.0.0.1:8085\\s+3 up");
      assertThat(whoAnswered(farm, 40, ProcessFarm.VIP)).containsKey("s1-w5");
      CommandResult remove =
          farm.cli(
              "s1", "ctl", "--config", farm.config("s1").toString(), "workers", "w5", "remove");
      assertThat(remove.exitCode()).as(remove.stderr()).isZero();
      assertThat(whoAnswered(farm, 40, ProcessFarm.VIP)).doesNotContainKey("s1-w5");
      CommandResult bad =
          farm.cli(
              "s1",
              "ctl",
              "--config",
              farm.config("s1").toString(),
              "workers",
              "w9",
              "weight",
              "1");
      assertThat(bad.exitCode()).isNotZero();
      assertThat(bad.stderr()).contains("has no worker w9");
    }
  }

  /** Waits until the server's DNAT map no longer names {@code worker} ("127.0.0.1 . 8082"). */
  private static void awaitDnatWithout(ProcessFarm farm, String server, String worker)
      throws Exception {
    ProcessLab.awaitTrue(
        () -> {
          CommandResult t =
              farm.hosts.get(server).exec("nft", "list", "table", "ip", "baton_workers");
          return t.exitCode() == 0
              && t.stdout().contains("dnat ip to")
              && !t.stdout().contains(worker);
        },
        Duration.ofSeconds(5),
        server + "'s DNAT map to drop " + worker);
  }

  /**
   * Relayed connections per worker now, from the server's metrics (an HTTP GET, not a {@code baton
   * ctl} JVM).
   */
  private static Map<String, Integer> active(ProcessFarm farm, String server) {
    Map<String, Integer> m = new HashMap<>();
    farm.byLabel(server, "baton_server_worker_active", "worker")
        .forEach((worker, v) -> m.put(worker, v.intValue()));
    return m;
  }

  /** The CONNECTIONS column of {@code baton ctl workers}, per worker. */
  private static Map<String, String> connectionCounts(CommandResult workers) {
    Map<String, String> m = new HashMap<>();
    for (String line : workers.stdout().lines().skip(1).toList()) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 8) m.put(f[1], f[f.length - 2]);
    }
    return m;
  }
}
