package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.io.InputStream;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Two dispatchers behind a BGP/ECMP router ({@link EcmpFarm}, real BIRD on both sides, real
 * processes): established connections survive the loss of the dispatcher that handed them off,
 * because the servers told the other dispatcher over the sync plane which connections they own.
 */
@Tag("lab")
class EcmpFarmLabTest {
  private static final int DOWNLOADS = 50;
  private static final String ENTRIES = "baton_forwarding_entries";

  /**
   * 50 slow downloads (8 MiB at 256 KiB/s, {@code Connection: close}, so each server's application
   * closes long before its kernel has sent everything); the dispatcher that handed off most of them
   * is killed (SIGKILL) once the other heard of every one, and started again at once. The router
   * withdraws its route (its BIRD dies with it) and later adds it back, so every flow moves at
   * least once and half of them twice; every download must still arrive byte-exact, without one
   * RST.
   */
  @Test
  void downloadsSurviveTheKilledDispatcherAndItsReturn() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-kill").startAll()) {
      String expected = sha256(farm.bigFile);
      RstCounter rst = RstCounter.install(farm.client);
      ExecutorService pool = Executors.newFixedThreadPool(DOWNLOADS);
      Process killed = null;
      String killedNode = null;
      try {
        List<Future<String>> downloads = new ArrayList<>();
        for (int i = 0; i < DOWNLOADS; i++) {
          // ~32 s each, across the kill and the restart (a JVM, BIRD and a BGP session: 4-6 s
          // idle, more on a loaded host): the client reads at 256 KiB/s and TCP's flow control
          // slows the server to that. A socket is made in the client's namespace, on its thread.
          SocketChannel socket = farm.client.call(SocketChannel::open);
          downloads.add(
              pool.submit(
                  () -> {
                    try {
                      return PacedDownload.sha256(
                          socket, EcmpFarm.VIP, 80, "/big.bin", 256 * 1024, Duration.ofSeconds(90));
                    } catch (java.io.IOException e) {
                      return "failed: " + e;
                    }
                  }));
        }
        // Handed off, and each heard by the other dispatcher: a dispatcher killed before the sync
        // plane's news of its last handoffs reached the other takes those connections with it.
        farm.awaitHandedOffAndReplicated(0, 0, DOWNLOADS, Duration.ofSeconds(30));
        double d1 = farm.handoffs("d1");
        double d2 = farm.handoffs("d2");
        String victim = d1 >= d2 ? "d1" : "d2";
        String survivor = victim.equals("d1") ? "d2" : "d1";
        long killNs = System.nanoTime();
        killed = farm.process(victim);
        killedNode = victim;
        farm.kill9(victim);
        farm.awaitNextHops(1, Duration.ofSeconds(30));
        long withdrawMs = (System.nanoTime() - killNs) / 1_000_000;
        assertThat(farm.nextHops())
            .as("the survivor's next hop")
            .containsExactly(survivor.equals("d1") ? "198.18.0.1" : "198.18.0.2");
        double installed = farm.metric(survivor, "baton_dispatcher_ownership_installed_total");
        farm.start(victim);
        farm.awaitNextHops(2, Duration.ofSeconds(60));
        long backMs = (System.nanoTime() - killNs) / 1_000_000;
        // Its own entries it adopted from the kernel at restart; the survivor's, it had before it
        // was killed (replicated), or got from the servers when it joined again.
        double victimEntries = farm.metric(victim, ENTRIES);
        long running = downloads.stream().filter(f -> !f.isDone()).count();
        List<String> results = new ArrayList<>();
        for (Future<String> f : downloads) results.add(f.get(120, TimeUnit.SECONDS));
        System.out.printf(
            "ecmp: handoffs d1 %.0f, d2 %.0f; killed %s: withdrawn from the router %d ms after the"
                + " kill; %s had installed %.0f entries from the servers' ownership news; %s back in the route %d ms"
                + " after the kill with %.0f forwarding entries, %d downloads still running then; %d of %d"
                + " downloads intact (others: %s); client RSTs %d%n",
            d1,
            d2,
            victim,
            withdrawMs,
            survivor,
            installed,
            victim,
            backMs,
            victimEntries,
            running,
            results.stream().filter(expected::equals).count(),
            DOWNLOADS,
            results.stream().filter(r -> !r.equals(expected)).toList(),
            rst.received());
        assertThat(running).as("downloads still running when the route came back").isPositive();
        assertThat(victimEntries)
            .as("entries of %s back in the route", victim)
            .isGreaterThanOrEqualTo(running);
        assertThat(results).as("every download's SHA-256").allMatch(expected::equals);
        assertThat(rst.received())
            .as("RSTs the client received, from %s", rst.receivedFlows())
            .isZero();
        assertThat(installed)
            .as("entries %s installed for the other dispatcher's handoffs", survivor)
            .isGreaterThanOrEqualTo(victim.equals("d1") ? d1 : d2);
        // Back in the route, it takes new connections.
        awaitTrue(
            () -> {
              CommandResult r =
                  farm.client.exec(
                      List.of(
                          "curl",
                          "-fsS",
                          "--max-time",
                          "10",
                          "http://" + EcmpFarm.VIP + "/whoami.txt"),
                      Duration.ofSeconds(15));
              assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
              return farm.handoffs(victim) > 0;
            },
            Duration.ofSeconds(30),
            victim + " taking new connections");
        assertThat(rst.received())
            .as("RSTs the client received, from %s", rst.receivedFlows())
            .isZero();
      } catch (Exception | AssertionError e) {
        // What each node saw explains a failure here: which lacked handoffs, news or entries.
        StringBuilder logs = new StringBuilder(e.toString());
        if (killed != null)
          logs.append(
              "%n%nthe killed %s's log:%n%s".formatted(killedNode, farm.log(killedNode, killed)));
        for (String n : List.of("d1", "d2", "s1", "s2"))
          logs.append("%n%n%s's log:%n%s".formatted(n, farm.log(n)));
        throw new AssertionError(logs.toString(), e);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /**
   * A planned reload of a BGP-announcing dispatcher ({@code --take-over}) under new connections:
   * the old process's BIRD goes without a Cease, so the router, a graceful-restart helper, keeps
   * d1's route (stale) until the new process's BIRD, started in recovery, announces it again. The
   * route never loses d1, no connection fails, no RST.
   */
  @Test
  void aTakeOverKeepsTheRouteAndFailsNoConnection() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-take").startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      // New connections all through the take-over, however long the new process takes to start
      // (a fixed 12 s of wrk ran out before it did on a slower machine: nothing to hand off).
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(90),
              "http://" + EcmpFarm.VIP + "/whoami.txt",
              "-t2",
              "-c8",
              "--timeout",
              "5s",
              "-H",
              "Connection: close");
      awaitTrue(() -> farm.handoffs("d1") > 50, Duration.ofSeconds(10), "load through d1");
      NextHopSampler sampler = NextHopSampler.start(farm);
      long t0 = System.nanoTime();
      Process old = farm.takeOver("d1");
      try {
        assertThat(old.waitFor(60, TimeUnit.SECONDS)).as("the old d1 exits").isTrue();
        // The new process hands off connections, and its BIRD's session is up again.
        awaitTrue(() -> farm.handoffs("d1") > 0, Duration.ofSeconds(30), "the new d1 handing off");
        awaitTrue(
            () -> farm.log("d1").contains("graceful-restart recovery"),
            Duration.ofSeconds(10),
            "the new d1's BIRD in recovery");
      } finally {
        sampler.stop();
      }
      List<Integer> hops = sampler.samples().stream().map(h -> h.hops().size()).toList();
      long tookMs = (System.nanoTime() - t0) / 1_000_000;
      // Some more load on the new process before the report.
      double newHandoffs = farm.handoffs("d1");
      awaitTrue(
          () -> farm.handoffs("d1") >= newHandoffs + 20,
          Duration.ofSeconds(10),
          "the new d1 taking more connections");
      assertThat(wrk.running()).as("wrk still loading at the end of the take-over").isTrue();
      String report = wrk.stop();
      System.out.printf(
          "ecmp take-over of d1 in %d ms; the router's next hops in %d samples meanwhile: min %d;"
              + " as they changed: %s; the new d1: %s; wrk:%n%s%n",
          tookMs,
          hops.size(),
          hops.stream().mapToInt(Integer::intValue).min().orElse(-1),
          sampler.changes(),
          farm.log("d1")
              .lines()
              .filter(l -> l.contains("joined the farm's cluster") || l.contains(" listens on "))
              .toList(),
          report);
      assertThat(hops)
          .as("the router's next hops for the VIP during the take-over")
          .isNotEmpty()
          .allMatch(n -> n == 2);
      // What answered the failed requests, and both d1 processes' logs, if any failed.
      String why =
          report.contains("Non-2xx") || report.contains("Socket errors")
              ? ("%nthe router's next hops, as they changed (their order decides which dispatcher"
                      + " an ECMP hash picks):%n%s%nanswered by the dispatchers themselves:%n%s%s"
                      + "%nold d1's log:%n%s%nnew d1's log:%n%s")
                  .formatted(
                      String.join("\n", sampler.changes()),
                      answered(farm, "d1"),
                      answered(farm, "d2"),
                      farm.log("d1", old),
                      farm.log("d1"))
              : "";
      assertThat(report)
          .as("wrk's report%s", why)
          .contains("requests in")
          .doesNotContain("Socket errors")
          .doesNotContain("Non-2xx");
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
      // Its forwarding thread once died on the flow map closed under it, losing the last changes.
      assertThat(farm.log("d1", old)).as("the old d1's log").doesNotContain("Exception");
      farm.awaitNextHops(2, Duration.ofSeconds(5));
    }
  }

  /** {@code node}'s {@code baton_dispatcher_answered} lines: what it answered or closed itself. */
  private static String answered(EcmpFarm farm, String node) {
    StringBuilder out = new StringBuilder();
    for (String line : farm.metricsText(node).split("\n")) {
      if (line.startsWith("baton_dispatcher_answered"))
        out.append(node).append(' ').append(line).append('\n');
    }
    return out.toString();
  }

  /**
   * A dispatcher that is stopped (SIGSTOP: its kernel and its BIRD still run) stops beating; BIRD's
   * watchdog withdraws its VIPs after {@code WEDGED_AFTER} (2 s), so new clients go to the other
   * dispatcher; when it runs again, the VIPs come back.
   */
  @Test
  void aStoppedDispatcherIsWithdrawnUntilItRunsAgain() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-stop").startAll()) {
      long stopNs = System.nanoTime();
      farm.signal("d1", "STOP");
      try {
        farm.awaitNextHops(1, Duration.ofSeconds(30));
        long withdrawnMs = (System.nanoTime() - stopNs) / 1_000_000;
        assertThat(farm.nextHops()).containsExactly("198.18.0.2");
        for (int i = 0; i < 6; i++) {
          CommandResult r =
              farm.client.exec(
                  List.of(
                      "curl", "-fsS", "--max-time", "10", "http://" + EcmpFarm.VIP + "/whoami.txt"),
                  Duration.ofSeconds(15));
          assertThat(r.exitCode())
              .as("a new connection while d1 is stopped: %s", r.stderr())
              .isZero();
        }
        System.out.printf(
            "ecmp: SIGSTOP of d1 -> withdrawn from the router %d ms later%n", withdrawnMs);
      } finally {
        farm.signal("d1", "CONT");
      }
      long contNs = System.nanoTime();
      farm.awaitNextHops(2, Duration.ofSeconds(30));
      System.out.printf(
          "ecmp: SIGCONT of d1 -> back in the route %d ms later%n",
          (System.nanoTime() - contNs) / 1_000_000);
    }
  }

  /**
   * Peer mode: three nodes, each dispatcher and server, each announcing the VIP. The router spreads
   * connections over them; each node serves some itself and hands others to a peer with fewer
   * connections (least connections, from the loads in the sync plane). Every answer is right and
   * nothing is reset; downloads running on every node survive one peer's dispatcher side being
   * withdrawn... (not here: a peer is also a server; killing it loses what it serves).
   */
  @Test
  void aPeerFarmServesLocallyAndThroughHandoffs() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-peers", true).startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      // Headers of every TCP packet of the VIP, at the client and at each peer on each interface
      // (front: from the router; fabric: forwarded by a peer): if an RST comes, its flow's story,
      // which node reset it, and what that node and the client had seen before.
      java.nio.file.Path capture = farm.lab.dir().resolve("client.pcap");
      Process tcpdump = farm.client.start(vipCapture(capture));
      java.util.Map<String, java.nio.file.Path> peerCaptures = new java.util.LinkedHashMap<>();
      List<Process> peerDumps = new ArrayList<>();
      for (String p : farm.dispatchers) {
        java.nio.file.Path file = farm.lab.dir().resolve(p + ".pcap");
        peerCaptures.put(p, file);
        peerDumps.add(farm.hosts.get(p).start(vipCapture(file)));
      }
      String expected = sha256(farm.bigFile);
      // The router's next hops, printed as their changes: a flow that an ECMP change moves to
      // another peer before that peer heard of it is reset.
      NextHopSampler nextHops = NextHopSampler.start(farm);
      ExecutorService pool = Executors.newFixedThreadPool(12);
      try {
        List<Future<CommandResult>> downloads = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
          downloads.add(
              pool.submit(
                  () ->
                      farm.client.exec(
                          List.of(
                              "bash",
                              "-o",
                              "pipefail",
                              "-c",
                              "curl -fsS --max-time 60 http://"
                                  + EcmpFarm.VIP
                                  + "/big.bin | pv -q -L 2m | sha256sum"),
                          Duration.ofSeconds(90))));
        }
        java.util.Map<String, Integer> answers = new java.util.TreeMap<>();
        for (int i = 0; i < 60; i++) {
          CommandResult r =
              farm.client.exec(
                  List.of(
                      "curl", "-fsS", "--max-time", "10", "http://" + EcmpFarm.VIP + "/whoami.txt"),
                  Duration.ofSeconds(15));
          assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
          answers.merge(r.stdout().strip(), 1, Integer::sum);
        }
        for (Future<CommandResult> f : downloads) {
          CommandResult r = f.get(120, TimeUnit.SECONDS);
          assertThat(r.exitCode()).as("download: %s", r.stderr()).isZero();
          assertThat(r.stdout().strip().split(" ")[0]).isEqualTo(expected);
        }
        double local = 0;
        double handedOff = 0;
        StringBuilder perNode = new StringBuilder();
        java.util.Set<String> served = new java.util.TreeSet<>();
        for (String p : farm.dispatchers) {
          double l = farm.metric(p, "baton_dispatcher_served_locally_total");
          double h = farm.metric(p, "baton_dispatcher_handoffs_total");
          double accepted = farm.metric(p, "baton_dispatcher_connections_accepted_total");
          double taken = farm.metric(p, "baton_server_handoffs_accepted_total");
          perNode.append(
              String.format(
                  " %s: accepted %.0f, served locally %.0f, handed off %.0f, took %.0f from"
                      + " peers;",
                  p, accepted, l, h, taken));
          if (l + taken > 0) served.add(p);
          local += l;
          handedOff += h;
        }
        System.out.printf(
            "peers: whoami answers %s;%s client RSTs %d; the router's next hops: %s%n",
            answers, perNode, rst.received(), nextHops.changes());
        assertThat(answers.keySet()).as("nodes that answered").isSubsetOf("p1", "p2", "p3");
        // Least connections on the loads in the sync plane: a node busy with downloads may get none
        // of the short requests, but every node serves (downloads or requests).
        assertThat(served).as("nodes that served connections").containsExactly("p1", "p2", "p3");
        assertThat(local).as("connections served by the node that accepted them").isPositive();
        assertThat(handedOff).as("connections handed to a peer").isPositive();
        assertThat(rst.received())
            .as("RSTs the client received, from %s", rst.receivedFlows())
            .isZero();
      } catch (AssertionError e) {
        for (String p : farm.dispatchers) {
          System.out.println("---- log of " + p);
          farm.log(p)
              .lines()
              .filter(l -> !l.contains("answering itself"))
              .limit(120)
              .forEach(System.out::println);
        }
        // For each flow that got an RST: its SYNs, FINs and RSTs at the client, and every log line
        // of every node that names its port.
        for (String listed : rst.receivedFlows().split(",")) {
          String flow = listed.strip();
          if (!flow.matches(".* \\d+$")) continue; // "none listed"
          String port = flow.substring(flow.lastIndexOf(' ') + 1);
          System.out.println("---- flow " + flow + ":");
          printFlow(farm.client, capture, port, "client");
          for (String p : farm.dispatchers) {
            farm.log(p)
                .lines()
                .filter(l -> l.contains(":" + port))
                .forEach(l -> System.out.println(p + ": " + l));
            printFlow(farm.hosts.get(p), peerCaptures.get(p), port, p);
          }
        }
        throw e;
      } finally {
        nextHops.stop();
        pool.shutdownNow();
        tcpdump.destroy();
        peerDumps.forEach(Process::destroy);
      }
    }
  }

  /**
   * Peer mode with bodies that are still arriving while the connection moves: each POST's head goes
   * to the node that accepted it, which hands the connection to a peer while the client keeps
   * sending the body. The body's packets that reach the new owner before it has restored the socket
   * must be dropped (and retransmitted), never reset by the node's own listener for the VIP. Every
   * echo comes back byte for byte and the client sees no RST.
   */
  @Test
  void aPeerTakesBodiesThatArriveWhileTheConnectionMoves() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-peer-post", true).startAll()) {
      RstCounter rst = RstCounter.install(farm.client);
      String expected = sha256(farm.bigFile);
      for (int i = 0; i < 24; i++) {
        CommandResult r =
            farm.client.exec(
                List.of(
                    "bash",
                    "-o",
                    "pipefail",
                    "-c",
                    // No Expect: 100-continue, so the body follows the head at once.
                    "curl -fsS --max-time 30 -H 'Expect:' --data-binary @"
                        + farm.bigFile
                        + " http://"
                        + EcmpFarm.VIP
                        + "/echo | sha256sum"),
                Duration.ofSeconds(45));
        assertThat(r.exitCode()).as("upload %d: %s", i, r.stderr()).isZero();
        assertThat(r.stdout().strip().split(" ")[0]).as("echo %d", i).isEqualTo(expected);
      }
      double handedOff = 0;
      double guardDrops = 0;
      for (String p : farm.dispatchers) {
        handedOff += farm.metric(p, "baton_dispatcher_handoffs_total");
        guardDrops += farm.metric(p, "baton_server_guard_drops_total");
      }
      System.out.printf(
          "peers: 24 uploads of %d bytes echoed, %.0f handed to a peer; body packets that came"
              + " before their socket and were dropped (then retransmitted): %.0f; client RSTs %d%n",
          java.nio.file.Files.size(farm.bigFile), handedOff, guardDrops, rst.received());
      assertThat(handedOff).as("uploads handed to a peer").isPositive();
      // The early body packets met the guard, not the node's VIP listener.
      assertThat(guardDrops).as("packets the peers' guards dropped").isPositive();
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
    }
  }

  /** tcpdump writing the headers of every TCP packet to or from the VIP to {@code file}. */
  private static List<String> vipCapture(java.nio.file.Path file) {
    return List.of(
        "sh",
        "-c",
        "exec tcpdump -i any -nn -s 96 -U -w "
            + file
            + " 'tcp and host "
            + EcmpFarm.VIP
            + "' 2>/dev/null");
  }

  /** Prints every packet of client port {@code port} in {@code file}, read in its namespace. */
  private static void printFlow(
      io.baton.lab.Host host, java.nio.file.Path file, String port, String who) throws Exception {
    host.exec(
            List.of("tcpdump", "-r", file.toString(), "-nn", "-tt", "tcp port " + port),
            Duration.ofSeconds(30))
        .stdout()
        .lines()
        .forEach(l -> System.out.println(who + " saw: " + l));
  }

  /**
   * What the sync plane carries under load: wrk opens a new connection per request for 6 s through
   * both dispatchers; every open and close reaches both dispatchers (each handoff is two ownership
   * changes at each), and no update is refused. The figures are printed: bytes per second per node,
   * scaled to 1,000 handoffs per second (measured, not asserted).
   */
  @Test
  void theSyncPlaneCarriesEveryOpenAndCloseUnderLoad() throws Exception {
    try (EcmpFarm farm = new EcmpFarm("ecmp-sync").startAll()) {
      List<String> nodes = List.of("d1", "d2", "s1", "s2");
      java.util.Map<String, java.util.Map<String, Double>> before = new java.util.HashMap<>();
      for (String n : nodes) before.put(n, farm.metrics(n));
      long startNs = System.nanoTime();
      CommandResult wrk =
          farm.client.exec(
              List.of(
                  "wrk",
                  "-t1",
                  "-c8",
                  "-d6s",
                  "-H",
                  "Connection: close",
                  "http://" + EcmpFarm.VIP + "/whoami.txt"),
              Duration.ofSeconds(30));
      double seconds = (System.nanoTime() - startNs) / 1e9;
      assertThat(wrk.exitCode()).as("wrk: %s", wrk.stderr()).isZero();
      double handoffs = 0;
      for (String d : farm.dispatchers) {
        handoffs +=
            farm.metric(d, "baton_dispatcher_handoffs_total")
                - before.get(d).get("baton_dispatcher_handoffs_total");
      }
      double total = handoffs;
      // Each handoff is an open and a close at each dispatcher, from the server that took it.
      for (String d : farm.dispatchers) {
        double base = before.get(d).get("baton_sync_ownership_changes_received_total");
        awaitTrue(
            () -> farm.metric(d, "baton_sync_ownership_changes_received_total") - base >= 2 * total,
            Duration.ofSeconds(30),
            d + " hearing every open and close");
        assertThat(farm.metric(d, "baton_sync_ownership_rejected_total")).isZero();
      }
      double rate = handoffs / seconds;
      StringBuilder perNode = new StringBuilder();
      for (String n : nodes) {
        java.util.Map<String, Double> after = farm.metrics(n);
        double sent =
            after.get("baton_sync_bytes_sent_total")
                - before.get(n).get("baton_sync_bytes_sent_total");
        double received =
            after.get("baton_sync_bytes_received_total")
                - before.get(n).get("baton_sync_bytes_received_total");
        perNode.append(
            String.format(
                "%n  %s: sent %.0f B/s, received %.0f B/s (at 1,000 handoffs/s: %.0f and %.0f B/s)",
                n,
                sent / seconds,
                received / seconds,
                sent / seconds * 1000 / rate,
                received / seconds * 1000 / rate));
      }
      System.out.printf(
          "sync traffic: %.0f handoffs in %.1f s (%.0f/s) through two dispatchers; each dispatcher"
              + " heard %.0f ownership changes/s;%s%n",
          handoffs, seconds, rate, 2 * rate, perNode);
      assertThat(handoffs).isPositive();
    }
  }

  private static String sha256(java.nio.file.Path file) throws Exception {
    var digest = java.security.MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) digest.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
