package io.baton.cli.demo;

import io.baton.cli.farm.EcmpFarm;
import io.baton.cli.farm.Farm;
import io.baton.lab.CommandResult;
import io.baton.lab.InterfaceStats;
import io.baton.lab.RstCounter;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * {@code baton demo --dispatchers 2}: two dispatchers behind a router that runs BIRD and spreads
 * clients over them by ECMP, each dispatcher announcing the VIP by BGP from its own BIRD; two
 * servers; every node on a sync network (JGroups). Real processes ({@code baton dispatcher|server
 * --config}). It shows the spread, then kills the dispatcher that handed off most of 20 running
 * downloads and starts it again (the router withdraws and restores its route; every download
 * arrives byte-exact), then drives load, and ends with what each dispatcher accepted, handed off
 * and forwarded, and what the sync plane carried.
 *
 * <p>Confined to the calling thread.
 */
public final class EcmpDemo {
  private static final Duration CURL = Duration.ofSeconds(60);
  private static final int DOWNLOADS = 20;
  private final int loadSeconds;
  private final DemoChecks checks;

  public EcmpDemo(PrintWriter out, int loadSeconds) {
    this.checks = new DemoChecks(out);
    this.loadSeconds = loadSeconds;
  }

  /** Runs the demo; true when every check passed. With {@code keep}, waits until interrupted. */
  public boolean run(boolean keep) throws Exception {
    checks.say(
        "Building the farm: client, router (BIRD, ECMP), dispatchers d1 and d2 (each with its BIRD announcing "
            + EcmpFarm.VIP
            + "), servers s1 and s2 (sample app), segments edge/front/fabric/sync ...");
    try (EcmpFarm farm = new EcmpFarm("demo2").startAll()) {
      RstCounter rsts = RstCounter.install(farm.client);
      Map<String, Map<String, Double>> before = new HashMap<>();
      Map<String, InterfaceStats> fabricBefore = new HashMap<>();
      for (String n : nodes(farm)) before.put(n, farm.metrics(n));
      for (String d : farm.dispatchers)
        fabricBefore.put(d, farm.hosts.get(d).interfaceStats("fabric"));
      checks.say(
          "[1] the router's route to the VIP: "
              + farm.router
                  .exec("ip", "route", "show", EcmpFarm.VIP)
                  .stdout()
                  .strip()
                  .replaceAll("\\s+", " "));
      checks.check(farm.nextHops().size() == 2, "two next hops, one per dispatcher");
      spread(farm);
      downloads(farm);
      String load = load(farm);
      summary(farm, before, fabricBefore, load);
      long received = rsts.received();
      checks.check(
          received == 0, "the client received " + received + " RST segments over the whole demo");
      checks.say(checks.failed() ? "DEMO FAILED" : "demo: all checks passed");
      if (keep) {
        checks.say("The farm stays up. In another shell, as root:");
        checks.say(
            "  ip netns exec "
                + farm.client.nsName()
                + " curl http://"
                + EcmpFarm.VIP
                + "/whoami.txt");
        checks.say(
            "  ip netns exec "
                + farm.router.nsName()
                + " birdc -s "
                + farm.lab.dir().resolve("router-bird.ctl")
                + " show route");
        checks.say("Ctrl-C ends it and tears the farm down.");
        Thread.currentThread().join();
      }
    }
    return !checks.failed();
  }

  private static List<String> nodes(EcmpFarm farm) {
    List<String> all = new ArrayList<>(farm.dispatchers);
    all.addAll(farm.servers);
    return all;
  }

  private void spread(EcmpFarm farm) {
    checks.say("[2] 40 requests, each on a new connection");
    Map<String, Integer> answers = new java.util.TreeMap<>();
    Map<String, Double> accepted0 = new HashMap<>();
    for (String d : farm.dispatchers)
      accepted0.put(d, farm.metric(d, "baton_dispatcher_connections_accepted_total"));
    for (int i = 0; i < 40; i++) {
      CommandResult r = curl(farm, "-fsS", "http://" + EcmpFarm.VIP + "/whoami.txt");
      answers.merge(r.exitCode() == 0 ? r.stdout().strip() : "failed", 1, Integer::sum);
    }
    StringBuilder per = new StringBuilder();
    boolean both = true;
    for (String d : farm.dispatchers) {
      double n = farm.metric(d, "baton_dispatcher_connections_accepted_total") - accepted0.get(d);
      per.append(String.format(" %s %.0f", d, n));
      both &= n > 0;
    }
    checks.check(
        !answers.containsKey("failed") && answers.size() == 2, "answers by server: " + answers);
    checks.check(both, "connections accepted by dispatcher:" + per + " (the router's L4 hash)");
  }

  private void downloads(EcmpFarm farm) throws Exception {
    checks.say(
        "[3] "
            + DOWNLOADS
            + " downloads of 8 MiB read at 256 KiB/s (~32 s); the dispatcher that handed off most"
            + " is killed with SIGKILL and started again");
    String want = Farm.sha256(farm.bigFile);
    ExecutorService pool = Executors.newFixedThreadPool(DOWNLOADS);
    // The counters already hold step [2]'s connections: wait for these downloads themselves.
    double handoffsBefore = farm.dispatcherTotal("baton_dispatcher_handoffs_total");
    double installedBefore = farm.dispatcherTotal("baton_dispatcher_ownership_installed_total");
    try {
      List<Future<CommandResult>> running = new ArrayList<>();
      for (int i = 0; i < DOWNLOADS; i++) {
        running.add(
            pool.submit(
                () ->
                    farm.client.exec(
                        List.of(
                            "bash",
                            "-o",
                            "pipefail",
                            "-c",
                            "curl -fsS --max-time 90 http://"
                                + EcmpFarm.VIP
                                + "/big.bin | pv -q -L 256k | sha256sum"),
                        Duration.ofSeconds(120))));
      }
      // A dispatcher killed before the other heard of its last handoffs takes those connections
      // with it.
      farm.awaitHandedOffAndReplicated(
          handoffsBefore, installedBefore, DOWNLOADS, Duration.ofSeconds(30));
      double d1 = farm.handoffs("d1");
      double d2 = farm.handoffs("d2");
      String victim = d1 >= d2 ? "d1" : "d2";
      long killNs = System.nanoTime();
      farm.kill9(victim);
      farm.awaitNextHops(1, Duration.ofSeconds(30));
      long withdrawnMs = (System.nanoTime() - killNs) / 1_000_000;
      checks.check(
          true,
          String.format(
              "killed %s (handoffs so far: d1 %.0f, d2 %.0f); its BIRD died with it and the router"
                  + " withdrew its route %d ms later",
              victim, d1, d2, withdrawnMs));
      farm.start(victim);
      farm.awaitNextHops(2, Duration.ofSeconds(60));
      long backMs = (System.nanoTime() - killNs) / 1_000_000;
      long still = running.stream().filter(f -> !f.isDone()).count();
      checks.check(
          still > 0,
          victim
              + " started again and announced the VIP: back in the route "
              + backMs
              + " ms after the kill, "
              + still
              + " downloads still running");
      int intact = 0;
      for (Future<CommandResult> f : running) {
        CommandResult r = f.get(150, TimeUnit.SECONDS);
        if (r.exitCode() == 0 && r.stdout().strip().startsWith(want)) intact++;
      }
      checks.check(
          intact == DOWNLOADS,
          intact
              + " of "
              + DOWNLOADS
              + " downloads arrived with the right SHA-256 ("
              + want.substring(0, 16)
              + "…)");
    } finally {
      pool.shutdownNow();
    }
  }

  private String load(EcmpFarm farm) {
    checks.say("[4] wrk, " + loadSeconds + " s, a new connection per request");
    CommandResult r =
        farm.client.exec(
            List.of(
                "wrk",
                "-t1",
                "-c8",
                "-d" + loadSeconds + "s",
                "-H",
                "Connection: close",
                "http://" + EcmpFarm.VIP + "/whoami.txt"),
            Duration.ofSeconds(loadSeconds + 30));
    String rate =
        r.stdout()
            .lines()
            .filter(l -> l.startsWith("Requests/sec"))
            .findFirst()
            .orElse("?")
            .strip();
    boolean clean =
        r.exitCode() == 0
            && !r.stdout().contains("Socket errors")
            && !r.stdout().contains("Non-2xx");
    checks.check(clean, "wrk: " + rate + (clean ? ", no errors" : ": " + r.stdout().strip()));
    return rate;
  }

  private void summary(
      EcmpFarm farm,
      Map<String, Map<String, Double>> before,
      Map<String, InterfaceStats> fabricBefore,
      String load) {
    checks.say("");
    checks.say("Summary (over the whole demo)");
    checks.say(
        String.format(
            "  %-4s %9s %10s %18s %22s",
            "", "accepted", "handed off", "entries from sync", "forwarded on fabric"));
    for (String d : farm.dispatchers) {
      // The restarted dispatcher's counters began again at 0: its figures are since its restart.
      Map<String, Double> now = farm.metrics(d);
      InterfaceStats f = farm.hosts.get(d).interfaceStats("fabric");
      checks.say(
          String.format(
              "  %-4s %9.0f %10.0f %18.0f %,14d packets",
              d,
              delta(now, before.get(d), "baton_dispatcher_connections_accepted_total"),
              delta(now, before.get(d), "baton_dispatcher_handoffs_total"),
              delta(now, before.get(d), "baton_dispatcher_ownership_installed_total"),
              f.txPackets() - fabricBefore.get(d).txPackets()));
    }
    checks.say("  Sync plane (JGroups on the sync network):");
    for (String n : nodes(farm)) {
      Map<String, Double> now = farm.metrics(n);
      checks.say(
          String.format(
              "  %-4s sent %,10.0f B, received %,10.0f B; ownership changes sent %,6.0f, received %,6.0f;"
                  + " reports sent %,5.0f",
              n,
              delta(now, before.get(n), "baton_sync_bytes_sent_total"),
              delta(now, before.get(n), "baton_sync_bytes_received_total"),
              delta(now, before.get(n), "baton_sync_ownership_changes_sent_total"),
              delta(now, before.get(n), "baton_sync_ownership_changes_received_total"),
              delta(now, before.get(n), "baton_sync_reports_sent_total")));
    }
    checks.say("  load: " + load);
  }

  /** A counter's growth; a counter that fell (its process restarted) counts from 0. */
  private static double delta(Map<String, Double> now, Map<String, Double> before, String name) {
    double a = now.getOrDefault(name, 0.0);
    double b = before.getOrDefault(name, 0.0);
    return a >= b ? a - b : a;
  }

  private static CommandResult curl(EcmpFarm farm, String... args) {
    List<String> cmd =
        new ArrayList<>(List.of("curl", "--max-time", String.valueOf(CURL.toSeconds())));
    cmd.addAll(List.of(args));
    return farm.client.exec(cmd, CURL.plusSeconds(5));
  }
}
