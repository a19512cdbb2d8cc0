package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A planned dispatcher reload ({@code baton dispatcher --config FILE --take-over}) under load, with
 * the real processes (issue 10): wrk opens a new connection for every request throughout,
 * keep-alive connections and downloads run across it, and nothing is lost: no connection attempt
 * refused or failed, no request failed, every download byte-exact, no RST at the client.
 */
@Tag("lab")
class ReloadLabTest {
  private static final int DOWNLOADS = 4;

  @Test
  void aTakeOverUnderLoadRefusesNoConnectionAndResetsNone() throws Exception {
    // A thread per download: on the common pool (one thread on a 2-CPU machine) they ran one
    // after another, and only the first crossed the reload.
    try (ProcessFarm farm = new ProcessFarm("reload", ProcessFarm.Options.DEFAULT).startAll();
        java.util.concurrent.ExecutorService pool =
            java.util.concurrent.Executors.newFixedThreadPool(DOWNLOADS)) {
      RstCounter rst = RstCounter.install(farm.client);
      String expected = Farm.sha256(farm.bigFile);
      List<KeepAliveClient> keepAlive = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        KeepAliveClient c = farm.client.call(() -> new KeepAliveClient(ProcessFarm.VIP, 80));
        farm.client.call(() -> c.get("/whoami.txt"));
        keepAlive.add(c);
      }
      List<CompletableFuture<CommandResult>> downloads = new ArrayList<>();
      for (int i = 0; i < DOWNLOADS; i++) {
        // ~35 s each at 3 MB/s (100 MiB), to run across the reload, which takes 10-15 s on a
        // loaded host (at 16 MB/s they could end before it); checked below
        downloads.add(
            CompletableFuture.supplyAsync(
                () ->
                    farm.client.exec(
                        List.of(
                            "bash",
                            "-o",
                            "pipefail",
                            "-c",
                            "curl -fsS --max-time 100 --limit-rate 3M "
                                + ProcessFarm.url("/big.bin")
                                + " | sha256sum"),
                        Duration.ofSeconds(120)),
                pool));
      }
      // Until the new process has handed off under it (a fixed 10 s could end before that on a
      // loaded host, and the reload would then be tested without load).
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(60),
              ProcessFarm.url("/whoami.txt"),
              "-t1",
              "-c8",
              "--timeout",
              "8s",
              "-H",
              "Connection: close");
      // The load runs on the old process first.
      farm.awaitMetric("d1", "baton_dispatcher_handoffs_total", v -> v > 200);
      long t0 = System.nanoTime();
      Process old = farm.takeOver("d1");
      assertThat(old.waitFor(60, TimeUnit.SECONDS)).as("the old dispatcher exits").isTrue();
      long oldGoneMs = (System.nanoTime() - t0) / 1_000_000;
      farm.awaitFabricUp();
      long readyMs = (System.nanoTime() - t0) / 1_000_000;
      long inFlight = downloads.stream().filter(d -> !d.isDone()).count();
      for (KeepAliveClient c : keepAlive) {
        assertThat(farm.client.call(() -> c.get("/whoami.txt").strip()))
            .as("a keep-alive connection after the reload")
            .isIn("s1", "s2");
      }
      farm.awaitMetric("d1", "baton_dispatcher_handoffs_total", v -> v > 100);
      boolean loadedThroughout = wrk.running();
      String report = wrk.stop();
      int intact = 0;
      for (var d : downloads) {
        CommandResult r = d.get(120, TimeUnit.SECONDS);
        if (r.exitCode() == 0 && r.stdout().startsWith(expected)) intact++;
      }
      System.out.printf(
          "reload: the old dispatcher exited %d ms after the take-over started, the new one had its fabric"
              + " up at %d ms; downloads intact %d of %d; client RSTs %d; wrk (a new connection per request):%n%s%n",
          oldGoneMs, readyMs, intact, DOWNLOADS, rst.received(), report);
      if (report.contains("Non-2xx") || report.contains("Socket errors")) {
        System.out.println(
            "old dispatcher's log:\n"
                + java.nio.file.Files.readString(farm.hosts.get("d1").stderrOf(old))
                + "\nnew dispatcher's log:\n"
                + farm.log("d1"));
      }
      assertThat(loadedThroughout)
          .as("wrk still loading when the new process had handed off 100 connections")
          .isTrue();
      assertThat(report)
          .as("wrk's report")
          .contains("requests in")
          .doesNotContain("Socket errors")
          .doesNotContain("Non-2xx");
      assertThat(inFlight)
          .as("downloads still running when the new process had its fabric up")
          .isEqualTo(DOWNLOADS);
      assertThat(intact).as("downloads byte-exact").isEqualTo(DOWNLOADS);
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
      assertThat(farm.log("d1"))
          .as("the new dispatcher's log")
          .contains("--take-over: dispatcher pid");
      for (KeepAliveClient c : keepAlive) {
        farm.client.call(
            () -> {
              c.close();
              return null;
            });
      }
    }
  }
}
