package io.baton.cli.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cli.farm.Farm;
import io.baton.cli.farm.ProcessFarm;
import io.baton.cli.farm.ProcessLab;
import io.baton.cli.farm.WrkUntilStopped;
import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code baton demo --migrate}: live migration between servers with the real processes ({@code
 * baton dispatcher|server --config}, the sync plane on) and {@code baton ctl} run on the servers'
 * hosts as an operator would. It drains a server under keep-alive load (every connection moves to
 * the other server between two requests), moves a download in the middle of its transfer, and
 * routes each request of one keep-alive connection by its path ({@code reroute: per-request}), then
 * sums up what moved and what it cost.
 *
 * <p>Confined to the calling thread.
 */
public final class MigrateDemo {
  private static final ObjectMapper json = new ObjectMapper();
  private static final String ROUTING =
      """
      vips:
        - address: %1$s
          port: 80
          mode: http
          default-pool: app
        - address: %1$s
          port: 443
          mode: http
          default-pool: a
          reroute: per-request
          rules:
            - { name: to-b, path-prefix: /b/, pool: b }
      pools:
        app:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
            - { node: s2, fabric-address: 198.18.1.12 }
        a:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
        b:
          members:
            - { node: s2, fabric-address: 198.18.1.12 }
      """
          .formatted(ProcessFarm.VIP);

  private final int loadSeconds;
  private final DemoChecks checks;

  public MigrateDemo(PrintWriter out, int loadSeconds) {
    this.checks = new DemoChecks(out);
    this.loadSeconds = loadSeconds;
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    checks.say(
        "Building the farm: client, dispatcher d1, servers s1 and s2 (sample app, embedded), a sync network;"
            + " VIP "
            + ProcessFarm.VIP
            + ":80 to pool app (s1, s2), :443 routed per request (/b/ to s2, the rest to s1)"
            + " ...");
    try (ProcessFarm farm =
        new ProcessFarm("demo-mig", ProcessFarm.Options.DEFAULT.withSync("").routing(ROUTING))) {
      farm.writePoolFiles();
      farm.startAll();
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      RstCounter rsts = RstCounter.install(farm.client);
      String drain = drainUnderLoad(farm);
      String download = downloadMidStream(farm);
      String reroute = perRequest(farm);
      checks.say("");
      checks.say("Summary");
      for (String s : ProcessFarm.SERVERS) {
        checks.say(
            String.format(
                "  %s: migrations moved %.0f, stayed %.0f, lost %.0f; per-request moves %.0f",
                s,
                farm.metric(s, "baton_server_migrations_total{outcome=\"moved\"}"),
                farm.metric(s, "baton_server_migrations_total{outcome=\"stayed\"}"),
                farm.metric(s, "baton_server_migrations_total{outcome=\"lost\"}"),
                farm.metric(s, "baton_server_reroutes_total{outcome=\"moved\"}")));
      }
      checks.say("  drain: " + drain);
      checks.say("  download: " + download);
      checks.say("  per-request routing: " + reroute);
      long received = rsts.received();
      checks.check(
          received == 0, "the client received " + received + " RST segments over the whole demo");
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) {
        checks.say("The farm stays up. In another shell, as root:");
        checks.say(
            "  ip netns exec "
                + farm.hosts.get("s1").nsName()
                + " ./baton ctl --config "
                + farm.config("s1")
                + " connections");
        checks.say("Ctrl-C ends it and tears the farm down.");
        Thread.currentThread().join();
      }
    }
    return !checks.failed();
  }

  private CommandResult ctl(ProcessFarm farm, String node, String... args) {
    List<String> all = new ArrayList<>(List.of("ctl", "--config", farm.config(node).toString()));
    all.addAll(List.of(args));
    return farm.cli(node, all.toArray(String[]::new));
  }

  private String drainUnderLoad(ProcessFarm farm) throws Exception {
    checks.say(
        "[1] wrk keeps 40 keep-alive connections busy; after "
            + loadSeconds
            + " s of it, s1 is drained with 'baton ctl drain' on its host, and the load goes on"
            + " until the drain has answered");
    // Not a fixed -d: each 'baton ctl' is a JVM that starts on a machine wrk keeps busy, and a
    // slow host once ended the load before the drain began (nothing was left to move).
    long start = System.nanoTime();
    WrkUntilStopped wrk =
        WrkUntilStopped.startNiced(
            farm.client,
            Duration.ofSeconds(loadSeconds + 90L),
            ProcessFarm.url("/whoami.txt"),
            "-t2",
            "-c40",
            "--timeout",
            "5s");
    long[] count = new long[1];
    try {
      farm.awaitMetric("s1", "baton_server_connections_active", v -> v > 0);
      ProcessLab.awaitTrue(
          () -> System.nanoTime() - start >= loadSeconds * 1_000_000_000L,
          Duration.ofSeconds(loadSeconds + 5L),
          loadSeconds + " s of load");
      ProcessLab.awaitTrue(
          () -> {
            count[0] = ctl(farm, "s1", "connections").stdout().strip().lines().count() - 1;
            return count[0] > 0;
          },
          Duration.ofSeconds(30),
          "wrk's connections in 'baton ctl connections' on s1");
    } catch (IllegalStateException e) {
      checks.check(false, e.getMessage() + "; wrk: " + wrk.stop());
      return "not run";
    }
    checks.say("    'baton ctl connections' on s1 lists " + count[0] + " of wrk's connections");
    CommandResult r = ctl(farm, "s1", "--json", "drain", "--deadline", "10s");
    JsonNode d = json.readTree(r.stdout().isBlank() ? "{}" : r.stdout());
    List<Long> moves = new ArrayList<>();
    d.path("connections")
        .forEach(
            c -> {
              if (c.path("outcome").asText().equals("moved"))
                moves.add(c.path("moveMicros").asLong());
            });
    moves.sort(null);
    checks.check(
        r.exitCode() == 0 && d.path("remaining").asLong(-1) == 0 && d.path("moved").asLong() > 0,
        String.format(
            "s1 drained: %d connections moved to s2 in %d ms, %d stayed, %d lost, %d left on s1",
            d.path("moved").asLong(),
            d.path("tookMs").asLong(),
            d.path("stayed").asLong(),
            d.path("lost").asLong(),
            d.path("remaining").asLong(-1)));
    boolean loadedThroughout = wrk.running();
    String report = wrk.stop();
    String rate =
        report
            .lines()
            .filter(l -> l.startsWith("Requests/sec"))
            .findFirst()
            .orElse("no rate")
            .strip();
    checks.check(
        loadedThroughout, "wrk was still loading s1's connections when the drain answered");
    checks.check(
        report.contains("requests in")
            && !report.contains("Socket errors")
            && !report.contains("Non-2xx"),
        "wrk during the drain: "
            + rate.replaceAll("\\s+", " ")
            + ", no failed request, no socket error");
    checks.check(
        farm.cli("s1", "drain", "--config", farm.config("s1").toString(), "--off").exitCode() == 0,
        "s1 takes new connections again ('baton drain --off')");
    return moves.isEmpty()
        ? "nothing moved"
        : String.format(
            "%d moves, each %.1f ms median, %.1f ms p99 (safe point to the target's answer); whole drain %d ms",
            moves.size(),
            moves.get(moves.size() / 2) / 1000.0,
            moves.get(Math.min(moves.size() - 1, (int) Math.ceil(moves.size() * 0.99) - 1))
                / 1000.0,
            d.path("tookMs").asLong());
  }

  private String downloadMidStream(ProcessFarm farm) throws Exception {
    checks.say(
        "[2] a 100 MiB download at 5 MB/s; 'baton ctl migrate' moves it to the other server mid-stream");
    // wrk's connections are gone first, so the server holding one connection holds the download.
    for (String s : ProcessFarm.SERVERS) {
      farm.awaitMetric(s, "baton_server_connections_active", v -> v == 0);
    }
    Path out = farm.lab.dir().resolve("download.bin");
    // Slow enough to outlast finding it and the migrate: each 'baton ctl' is a JVM, seconds on a
    // loaded host (at 20 MB/s a CI host once ended the download before the migrate ran).
    Process curl =
        farm.client.start(
            List.of(
                "curl",
                "-sS",
                "--max-time",
                "90",
                "--limit-rate",
                "5M",
                "-o",
                out.toString(),
                ProcessFarm.url("/big.bin")));
    ProcessFarm.Served download = farm.awaitTheOneConnection(80);
    String target = download.server().equals("s1") ? "s2" : "s1";
    long before = Files.exists(out) ? Files.size(out) : 0;
    CommandResult moved =
        ctl(
            farm,
            download.server(),
            "migrate",
            download.client(),
            ProcessFarm.VIP + ":80",
            "--to",
            target);
    boolean inFlight = curl.isAlive();
    checks.check(
        moved.exitCode() == 0,
        "after "
            + before / (1 << 20)
            + " MiB: "
            + moved.stdout().strip()
            + moved.stderr().strip()
            + (inFlight ? "" : " (the download had ended when the migrate answered)"));
    checks.check(inFlight, "the download was still in flight when the migrate answered");
    boolean ended = curl.waitFor(90, TimeUnit.SECONDS);
    boolean intact =
        ended && curl.exitValue() == 0 && Farm.sha256(out).equals(Farm.sha256(farm.bigFile));
    checks.check(intact, "the download arrived whole, its SHA-256 that of the file");
    return moved.stdout().strip();
  }

  private String perRequest(ProcessFarm farm) throws Exception {
    checks.say(
        "[3] one keep-alive connection (curl, 12 URLs) to :443, alternating /a/ (pool a: s1) and /b/ (pool b:"
            + " s2): each request is routed by its path");
    List<String> cmd =
        new ArrayList<>(
            List.of("curl", "-sS", "--max-time", "30", "-w", "|%{num_connects}|%{time_total}\n"));
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String pool = i % 2 == 0 ? "a" : "b";
      cmd.add("http://" + ProcessFarm.VIP + ":443/" + pool + "/who.txt");
      expected.add(pool + " from " + (pool.equals("a") ? "s1" : "s2"));
    }
    CommandResult r = farm.client.exec(cmd, Duration.ofSeconds(40));
    List<String> bodies = new ArrayList<>();
    int connects = 0;
    List<Double> times = new ArrayList<>();
    for (String line : r.stdout().split("\n")) {
      if (line.isBlank()) continue;
      if (line.startsWith("|")) {
        String[] f = line.split("\\|");
        connects += Integer.parseInt(f[1]);
        times.add(Double.parseDouble(f[2]) * 1000);
      } else {
        bodies.add(line.strip());
      }
    }
    checks.check(
        r.exitCode() == 0 && bodies.equals(expected),
        "answers in order: "
            + String.join(", ", bodies.stream().distinct().toList())
            + (bodies.equals(expected) ? "" : " (expected " + expected + ")"));
    checks.check(connects == 1, "all on one connection (" + connects + " connects)");
    List<Double> switched = new ArrayList<>(times.subList(1, times.size()));
    switched.sort(null);
    return String.format(
        "%d requests on one connection, 11 of them moved it to the other pool's server: median %.1f ms"
            + " per request (the first, handed off by the dispatcher, %.1f ms)",
        times.size(),
        switched.isEmpty() ? 0 : switched.get(switched.size() / 2),
        times.isEmpty() ? 0 : times.getFirst());
  }
}
