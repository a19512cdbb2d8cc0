package io.baton.cli.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cli.farm.Nginx;
import io.baton.cli.farm.ProcessFarm;
import io.baton.cli.farm.ProcessLab;
import io.baton.cli.farm.WrkUntilStopped;
import io.baton.lab.CommandResult;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code baton demo --workers}: four unmodified nginx workers behind one VIP port on one server
 * (real {@code baton dispatcher|server --config} processes), under wrk's load of new connections;
 * mid-run one worker is killed and another drained with {@code baton ctl workers}, and the demo
 * sums up per worker what it served.
 *
 * <p>Confined to the calling thread.
 */
public final class WorkersDemo {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WORKERS =
      "workers: { balance: least-connections, members: ["
          + "{ name: w1, address: 127.0.0.1:8081 }, { name: w2, address: 127.0.0.1:8082 },"
          + " { name: w3, address: 127.0.0.1:8083 }, { name: w4, address: 127.0.0.1:8084 } ] }";
  private static final String ONE_SERVER =
      """
      vips:
        - address: %1$s
          port: 80
          mode: http
          default-pool: one
        - address: %1$s
          port: 443
          mode: http
          default-pool: one
      pools:
        one:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
            - { node: s2, fabric-address: 198.18.1.12, weight: 0 }   # in the farm, given nothing
      """
          .formatted(ProcessFarm.VIP);

  private final int loadSeconds;
  private final DemoChecks checks;

  public WorkersDemo(PrintWriter out, int loadSeconds) {
    this.checks = new DemoChecks(out);
    // Long enough that the drain (a ctl JVM start, ~1.5 s) lands well inside the run.
    this.loadSeconds = Math.max(9, loadSeconds);
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    checks.say(
        "Building the farm: client, dispatcher d1, server s1 with four nginx workers (127.0.0.1:8081-8084)"
            + " behind VIP "
            + ProcessFarm.VIP
            + ":80 (least connections) ...");
    try (ProcessFarm farm =
        new ProcessFarm(
            "demo-wk", ProcessFarm.Options.DEFAULT.routing(ONE_SERVER).port80(WORKERS))) {
      Map<String, Process> nginx = new HashMap<>();
      for (int w = 1; w <= 4; w++) {
        Path root = Files.createDirectories(farm.lab.dir().resolve("www-w" + w));
        Files.writeString(root.resolve("whoami.txt"), "w" + w + "\n");
        nginx.put(
            "w" + w,
            Nginx.startWorker(farm.hosts.get("s1"), farm.lab.dir(), "s1-w" + w, root, 8080 + w));
      }
      farm.startAll();
      checks.say("");
      checks.say(
          "wrk: new connections (Connection: close), 8 at a time, for "
              + loadSeconds
              + " s and until w1 and w4 have taken more after the drain;"
              + " after a third w2 is killed (SIGKILL), after two thirds w3 is drained (baton ctl workers w3 drain).");
      // Not a fixed -d: the drain is a 'baton ctl' JVM, seconds on a loaded host, and a fixed run
      // could end before it, checking the drain with no load on.
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(loadSeconds + 90L),
              "http://" + ProcessFarm.VIP + "/whoami.txt",
              "-t1",
              "-c8",
              "-H",
              "Connection: close");
      long start = System.nanoTime();
      awaitElapsed(start, loadSeconds * 1000L / 3);
      Process w2 = nginx.get("w2");
      Nginx.kill(w2);
      checks.say("   w2 killed at " + (System.nanoTime() - start) / 1_000_000 + " ms");
      awaitElapsed(start, loadSeconds * 2000L / 3);
      CommandResult drain = ctl(farm, "workers", "w3", "drain");
      checks.check(
          drain.exitCode() == 0,
          "w3 drained at "
              + (System.nanoTime() - start) / 1_000_000
              + " ms"
              + (drain.exitCode() == 0 ? "" : ": " + drain.stderr()));
      long beforeDrainEnd = chosen(farm, "w3");
      long w1AtDrain = chosen(farm, "w1");
      long w4AtDrain = chosen(farm, "w4");
      awaitElapsed(start, loadSeconds * 1000L);
      ProcessLab.awaitTrue(
          () -> chosen(farm, "w1") >= w1AtDrain + 20 && chosen(farm, "w4") >= w4AtDrain + 20,
          Duration.ofSeconds(60),
          "w1 and w4 taking 20 more connections each after the drain");
      boolean loaded = wrk.running();
      checks.check(loaded, "wrk was still loading after the drain");
      String out = wrk.stop();
      String rate =
          out.lines()
              .filter(l -> l.startsWith("Requests/sec"))
              .findFirst()
              .orElse("Requests/sec: ?")
              .strip();
      // Only the connections w2 was serving when it died may fail (wrk has 8 open at a time), and
      // fast: a read error, never a connect error or a timeout; no answer is ever wrong.
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile(
                  "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)")
              .matcher(out);
      long connect = 0, read = 0, write = 0, timeout = 0;
      if (m.find()) {
        connect = Long.parseLong(m.group(1));
        read = Long.parseLong(m.group(2));
        write = Long.parseLong(m.group(3));
        timeout = Long.parseLong(m.group(4));
      }
      checks.check(
          !out.contains("Non-2xx") && connect == 0 && timeout == 0 && read + write <= 8,
          "no request failed but those w2 was serving when it died ("
              + (read + write)
              + " reset, at most 8; "
              + rate
              + ")");

      checks.say("");
      checks.say("Per worker (baton ctl workers on s1):");
      CommandResult list = ctl(farm, "workers");
      list.stdout().lines().forEach(l -> checks.say("   " + l));
      JsonNode rows = JSON.readTree(ctl(farm, "--json", "workers").stdout()).path("workers");
      Map<String, JsonNode> byName = new HashMap<>();
      for (JsonNode r : rows) byName.put(r.path("worker").asText(), r);
      checks.check(
          byName.get("w2").path("state").asText().equals("down"),
          "w2 is down (its connect failed; the" + " connection was retried on another worker)");
      checks.check(
          byName.get("w3").path("state").asText().equals("draining")
              && byName.get("w3").path("connections").asLong() == beforeDrainEnd,
          "w3 took no new connection after its drain");
      checks.check(
          byName.get("w1").path("connections").asLong() > 0
              && byName.get("w4").path("connections").asLong() > 0,
          "w1 and w4 carried the load to the end");
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) {
        checks.say("The farm stays up. In another shell, as root:");
        checks.say(
            "  ip netns exec "
                + farm.hosts.get("s1").nsName()
                + " ./baton ctl --config "
                + farm.config("s1")
                + " workers");
        checks.say("Ctrl-C ends it and tears the farm down.");
        Thread.currentThread().join();
      }
    }
    return !checks.failed();
  }

  /** Connections given to {@code worker} so far, from s1's metrics (an HTTP GET, not a JVM). */
  private static long chosen(ProcessFarm farm, String worker) {
    return farm.byLabel("s1", "baton_server_worker_connections_total", "worker")
        .getOrDefault(worker, 0.0)
        .longValue();
  }

  private static CommandResult ctl(ProcessFarm farm, String... args) {
    String[] all = new String[args.length + 3];
    all[0] = "ctl";
    all[1] = "--config";
    all[2] = farm.config("s1").toString();
    System.arraycopy(args, 0, all, 3, args.length);
    return farm.cli("s1", all);
  }

  private static void awaitElapsed(long startNs, long ms) throws Exception {
    ProcessLab.awaitTrue(
        () -> System.nanoTime() - startNs >= ms * 1_000_000,
        Duration.ofMillis(ms + 5_000),
        ms + " ms into the run");
  }
}
