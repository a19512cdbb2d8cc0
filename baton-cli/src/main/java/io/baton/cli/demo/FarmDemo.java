package io.baton.cli.demo;

import io.baton.cli.bench.Wrk;
import io.baton.cli.farm.Farm;
import io.baton.dispatcher.LatencyRecorder;
import io.baton.lab.CommandResult;
import io.baton.lab.InterfaceStats;
import io.baton.lab.RstCounter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code baton demo}: the farm of {@link Farm} (client, dispatcher d1, servers s1..s3 on front,
 * fabric and sync segments; nginx behind the relay on s1, the sample app on s2 and s3) with real
 * clients: curl checks routing, TLS and a 100 MiB download byte for byte; wrk drives load with a
 * handoff per request; curl timings compare time-to-first-byte through Baton with the same app
 * reached directly. Ends with a summary of requests per server, handoffs, failures and the bytes
 * the servers sent against the bytes that crossed the dispatcher.
 *
 * <p>Confined to the calling thread.
 */
public final class FarmDemo {
  private static final Duration CURL = Duration.ofSeconds(60);

  private final int loadSeconds;
  private final int ttfbSamples;
  private final DemoChecks checks;

  public FarmDemo(PrintWriter out, int loadSeconds, int ttfbSamples) {
    this.checks = new DemoChecks(out);
    this.loadSeconds = loadSeconds;
    this.ttfbSamples = ttfbSamples;
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    checks.say(
        "Building the farm: client, dispatcher d1, servers s1 (nginx via relay), s2 and s3 (sample app),"
            + " segments front/fabric/sync, VIP "
            + Farm.VIP
            + " ...");
    try (Farm farm = Farm.start("demo", Map.of())) {
      checks.say(
          "  namespaces: "
              + farm.client.nsName()
              + ", "
              + farm.d1.nsName()
              + ", "
              + String.join(", ", farm.servers.values().stream().map(h -> h.nsName()).toList()));
      RstCounter clientRsts = RstCounter.install(farm.client);
      Snapshot before = snapshot(farm);
      routing(farm);
      download(farm);
      Map<String, String> wrk = load(farm);
      String ttfb = ttfb(farm);
      Snapshot after = snapshot(farm);
      summary(farm, before, after, wrk, ttfb);
      noRstReachedTheClient(farm, clientRsts);
      statsPage(farm);
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) keepServing(farm);
    }
    return !checks.failed();
  }

  private void routing(Farm farm) {
    checks.say("[1] routing with curl");
    checks.check(
        body(farm, farm.url("/static/whoami.txt")).equals("s1\n"),
        "/static/ goes to s1 (nginx, relay)");
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 4; i++) seen.add(body(farm, farm.url("/whoami.txt")).strip());
    checks.check(
        seen.contains("s2") && seen.contains("s3") && !seen.contains("s1"),
        "other paths alternate between s2 and s3 (sample app, embedded): " + seen);
    checks.check(
        body(farm, "-H", "Host: s3.example.test", farm.url("/whoami.txt")).equals("s3\n"),
        "Host: s3.example.test goes to s3");
    for (var e : Map.of("a.example.test", "s1", "b.example.test", "s2").entrySet()) {
      String got =
          body(
                  farm,
                  "--cacert",
                  farm.caCert.toString(),
                  "--resolve",
                  e.getKey() + ":443:" + Farm.VIP,
                  "https://" + e.getKey() + "/whoami.txt")
              .strip();
      checks.check(
          got.equals(e.getValue()),
          "TLS with SNI " + e.getKey() + " is terminated by " + got + "'s nginx");
    }
    CommandResult ghost =
        farm.curl(
            CURL,
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "X-Pool: ghost",
            farm.url("/whoami.txt"));
    checks.check(
        ghost.stdout().equals("503"),
        "a pool whose only server is down gets 503 from the dispatcher");
  }

  private void download(Farm farm) throws Exception {
    checks.say("[2] 100 MiB download through a handoff");
    String want = Farm.sha256(farm.bigFile);
    InterfaceStats d0 = farm.d1.interfaceStats("front");
    Path file = farm.lab.dir().resolve("demo-download.bin");
    CommandResult r =
        farm.curl(CURL, "-o", file.toString(), "-w", "%{time_total}", farm.url("/big.bin"));
    checks.check(
        r.exitCode() == 0 && Farm.sha256(file).equals(want),
        "curl got "
            + Files.size(file)
            + " bytes in "
            + r.stdout()
            + " s, SHA-256 "
            + want.substring(0, 16)
            + "… matches");
    InterfaceStats d1 = farm.d1.interfaceStats("front");
    long tx = d1.txBytes() - d0.txBytes();
    checks.check(
        tx < Farm.DISPATCHER_FRONT_TX_MAX_PER_DOWNLOAD,
        String.format(
            "the dispatcher's front interface sent %,d bytes (%.4f%% of the response; the bound is %,d)",
            tx, 100.0 * tx / Farm.BIG_FILE_BYTES, Farm.DISPATCHER_FRONT_TX_MAX_PER_DOWNLOAD));
    Files.delete(file);
  }

  private Map<String, String> load(Farm farm) {
    checks.say(
        "[3] wrk, "
            + loadSeconds
            + " s each: every request a new connection (a handoff each), then keep-alive");
    Map<String, String> results = new LinkedHashMap<>();
    for (var run :
        Map.of(
                "new connection per request",
                List.of("-H", "Connection: close"),
                "keep-alive",
                List.<String>of())
            .entrySet()) {
      List<String> cmd =
          new ArrayList<>(List.of("wrk", "-t2", "-c16", "-d" + loadSeconds + "s", "--latency"));
      cmd.addAll(run.getValue());
      cmd.add(farm.url("/whoami.txt"));
      CommandResult r = farm.client.exec(cmd, Duration.ofSeconds(loadSeconds + 30));
      Wrk.Result w;
      try {
        w = Wrk.parse(r.stdout(), r.stderr());
      } catch (java.io.IOException e) {
        checks.check(false, "wrk " + run.getKey() + ": " + e.getMessage());
        continue;
      }
      double perSecond = w.requests() / w.seconds();
      String line =
          String.format(
              "%,d requests, %,.0f/s, latency p50 %s p99 %s, %d socket errors, %d non-2xx",
              w.requests(),
              perSecond,
              LatencyRecorder.micros((long) (w.latencyP50Us() * 1000)),
              LatencyRecorder.micros((long) (w.latencyP99Us() * 1000)),
              w.socketErrors(),
              w.non2xx());
      checks.check(w.errors() == 0 && w.requests() > 0, run.getKey() + ": " + line);
      results.put(run.getKey(), String.format("%,.0f/s", perSecond));
    }
    return results;
  }

  private String ttfb(Farm farm) {
    checks.say(
        "[4] time to first byte, "
            + ttfbSamples
            + " sequential requests each: same app direct vs through Baton");
    LatencyRecorder direct = new LatencyRecorder(ttfbSamples);
    LatencyRecorder baton = new LatencyRecorder(ttfbSamples);
    for (int i = 0; i < ttfbSamples; i++) {
      direct.record(
          startTransferNs(
              farm, "http://" + Farm.DIRECT_APP_IP + ":" + Farm.DIRECT_APP_PORT + "/whoami.txt"));
      baton.record(startTransferNs(farm, "http://" + Farm.VIP + ":80/whoami.txt"));
    }
    checks.say("    direct to s2:   " + direct.summary());
    checks.say("    through Baton:  " + baton.summary());
    String added =
        "added TTFB median "
            + LatencyRecorder.micros(baton.percentileNanos(50) - direct.percentileNanos(50))
            + ", p99 "
            + LatencyRecorder.micros(baton.percentileNanos(99) - direct.percentileNanos(99));
    checks.say("    " + added);
    return added;
  }

  private long startTransferNs(Farm farm, String url) {
    CommandResult r = farm.curl(CURL, "-o", "/dev/null", "-w", "%{time_starttransfer}", url);
    if (r.exitCode() != 0) {
      checks.check(false, "curl " + url + ": " + r.stderr().strip());
      return 0;
    }
    return (long) (Double.parseDouble(r.stdout().strip()) * 1e9);
  }

  private record Snapshot(
      Map<String, Long> accepted,
      long handedOff,
      long refused,
      long failures,
      long answered503,
      long serverTx,
      long dispatcherTx,
      long dispatcherRx) {}

  private Snapshot snapshot(Farm farm) {
    Map<String, Long> accepted = new LinkedHashMap<>();
    long serverTx = 0;
    for (String s : Farm.SERVERS) {
      accepted.put(s, farm.nodes.get(s).server().acceptedTotal());
      serverTx += farm.servers.get(s).interfaceStats("front").txBytes();
    }
    var stats = farm.nodes.get("d1").dispatcher().stats();
    InterfaceStats front = farm.d1.interfaceStats("front");
    return new Snapshot(
        accepted,
        stats.handedOff.sum(),
        stats.refusedByServer.sum(),
        stats.handoffFailures.sum(),
        stats.answered503.sum(),
        serverTx,
        front.txBytes(),
        front.rxBytes());
  }

  private void summary(Farm farm, Snapshot a, Snapshot b, Map<String, String> wrk, String ttfb) {
    checks.say("Summary");
    StringBuilder per = new StringBuilder();
    for (String s : Farm.SERVERS) {
      per.append(String.format("%s %,d  ", s, b.accepted().get(s) - a.accepted().get(s)));
    }
    checks.say("  connections taken per server: " + per.toString().strip());
    checks.say(
        String.format(
            "  handoffs %,d, refused by a server %,d, failed %,d, answered 503 by the dispatcher %,d",
            b.handedOff() - a.handedOff(),
            b.refused() - a.refused(),
            b.failures() - a.failures(),
            b.answered503() - a.answered503()));
    long serverTx = b.serverTx() - a.serverTx();
    long dTx = b.dispatcherTx() - a.dispatcherTx();
    long dRx = b.dispatcherRx() - a.dispatcherRx();
    checks.say(
        String.format(
            "  bytes sent to clients by the servers: %,d; crossing the dispatcher's front interface:"
                + " %,d out, %,d in (%.2f%% of the servers' bytes went out through the dispatcher)",
            serverTx, dTx, dRx, 100.0 * dTx / Math.max(1, serverTx)));
    var stats = farm.nodes.get("d1").dispatcher().stats();
    checks.say(
        "  handoff stages on the dispatcher: freeze + forwarding entry "
            + stats.freezeAndForwardTime.summary()
            + "; export "
            + stats.exportTime.summary()
            + "; fabric round trip (incl. restore on the server) "
            + stats.fabricRoundTripTime.summary()
            + "; whole handoff "
            + stats.handoffTime.summary());
    checks.say("  wrk: " + wrk);
    checks.say("  " + ttfb);
  }

  /**
   * Every connection of the demo ends with FINs: the client must not have received a single RST.
   * The last connections close during wrk's and curl's exits, so first wait until the dispatcher
   * has retired every forwarding entry (the close grace has passed for all of them).
   */
  private void noRstReachedTheClient(Farm farm, RstCounter clientRsts) throws Exception {
    var forwarding = farm.nodes.get("d1").dispatcher().forwarding();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while ((forwarding.size().get(5, TimeUnit.SECONDS) > 0
            || forwarding.closingSize().get(5, TimeUnit.SECONDS) > 0)
        && System.nanoTime() < deadline) {
      Thread.sleep(20); // polling interval of a deadline-bounded wait
    }
    long received = clientRsts.received();
    checks.check(
        received == 0, "the client received " + received + " RST segments over the whole demo");
  }

  /** d1's live stats page shows the farm: its feed lists every server, up. */
  private void statsPage(Farm farm) throws Exception {
    String url = farm.nodes.get("d1").statsUrl();
    String feed = url.replace("/stats?", "/v1/stats?");
    var r = farm.d1.exec("curl", "-s", "--max-time", "5", feed);
    var metrics =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout()).path("metrics");
    java.util.Set<String> up = new java.util.TreeSet<>();
    for (var p : metrics.path("baton_fabric_up")) {
      if (p.path("value").asDouble() >= 1) up.add(p.path("labels").path("server").asText());
    }
    checks.check(
        up.equals(new java.util.TreeSet<>(farm.servers.keySet())),
        "d1's live stats page (baton ctl stats) shows servers " + up + " up");
  }

  private void keepServing(Farm farm) throws InterruptedException {
    checks.say("");
    checks.say("The farm stays up. In another shell, as root:");
    String stats = farm.nodes.get("d1").statsUrl();
    checks.say(
        "  d1's live stats page, inside d1's namespace (a browser there, or its JSON with curl):");
    checks.say("    ip netns exec " + farm.d1.nsName() + " chromium --no-sandbox '" + stats + "'");
    checks.say(
        "    ip netns exec "
            + farm.d1.nsName()
            + " curl -s '"
            + stats.replace("/stats?", "/v1/stats?")
            + "'");
    checks.say(
        "  ip netns exec " + farm.client.nsName() + " curl http://" + Farm.VIP + "/whoami.txt");
    checks.say(
        "  ip netns exec "
            + farm.client.nsName()
            + " curl http://"
            + Farm.VIP
            + "/static/whoami.txt");
    checks.say(
        "  ip netns exec "
            + farm.client.nsName()
            + " curl --cacert "
            + farm.caCert
            + " --resolve a.example.test:443:"
            + Farm.VIP
            + " https://a.example.test/whoami.txt");
    checks.say(
        "  ip netns exec " + farm.client.nsName() + " wrk -d5s http://" + Farm.VIP + "/index.html");
    checks.say("Ctrl-C ends it and tears the farm down.");
    Thread.currentThread().join();
  }

  private String body(Farm farm, String... args) {
    CommandResult r = farm.curl(CURL, args);
    return r.exitCode() == 0 ? r.stdout() : "(curl failed: " + r.stderr().strip() + ")";
  }
}
