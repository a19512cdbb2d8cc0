package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Live migration between servers (issue 10), with the real processes ({@code baton
 * dispatcher|server --config}, the sync plane on) and {@code baton ctl} run on the server's host as
 * an operator would: a keep-alive connection moved between requests, a download moved mid-stream,
 * and a drain of a server under keep-alive connections.
 */
@Tag("lab")
class MigrationLabTest {
  private static final Duration CURL = Duration.ofSeconds(60);

  private static ProcessFarm farm(String purpose) throws Exception {
    return farm(purpose, ProcessFarm.Options.DEFAULT.withSync(""));
  }

  private static ProcessFarm farm(String purpose, ProcessFarm.Options options) throws Exception {
    ProcessFarm farm = new ProcessFarm(purpose, options).startAll();
    for (String s : ProcessFarm.SERVERS) {
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
    }
    return farm;
  }

  private static CommandResult ctl(ProcessFarm farm, String node, String... args) {
    List<String> all = new ArrayList<>(List.of("ctl", "--config", farm.config(node).toString()));
    all.addAll(List.of(args));
    if (args[0].equals("--json")) args = java.util.Arrays.copyOfRange(args, 1, args.length);
    CommandResult r = farm.cli(node, all.toArray(String[]::new));
    if (r.exitCode() != 0) {
      for (String s : ProcessFarm.SERVERS)
        System.out.println(
            "ctl " + args[0] + " on " + node + " failed; " + s + "'s log:\n" + farm.log(s));
    }
    return r;
  }

  /**
   * {@code ctl migrate} of {@code c} from s1 to s2 (with {@code extra} options); then five
   * requests, each answered by s2, and the connection listed on s2, no longer on s1.
   */
  private static void moveToS2(ProcessFarm farm, KeepAliveClient c, String label, String... extra)
      throws Exception {
    String client = c.localAddress();
    List<String> args =
        new ArrayList<>(List.of("migrate", client, ProcessFarm.VIP + ":80", "--to", "s2"));
    args.addAll(List.of(extra));
    CommandResult moved = ctl(farm, "s1", args.toArray(String[]::new));
    assertThat(moved.exitCode()).as("ctl migrate: %s %s", moved.stdout(), moved.stderr()).isZero();
    assertThat(moved.stdout()).contains("moved to s2");
    System.out.println(label + ": " + moved.stdout().strip());
    for (int i = 0; i < 5; i++) {
      assertThat(farm.client.call(() -> c.get("/whoami.txt").strip()))
          .as("request %d after the move", i)
          .isEqualTo("s2");
    }
    assertThat(ctl(farm, "s2", "connections").stdout()).contains(client);
    assertThat(ctl(farm, "s1", "connections").stdout()).doesNotContain(client);
  }

  @Test
  void aKeepAliveConnectionMovesBetweenRequestsAndCarriesOnOnTheOtherServer() throws Exception {
    try (ProcessFarm farm = farm("mig-ka")) {
      KeepAliveClient c = KeepAliveClient.landingOn(farm, "s1");
      String client = c.localAddress();
      CommandResult listed = ctl(farm, "s1", "connections");
      assertThat(listed.stdout()).as("ctl connections on s1: %s", listed.stderr()).contains(client);
      moveToS2(farm, c, "migration");
      // s2 counts the bytes it read and wrote for the connection: five requests and answers.
      var listed2 =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .readTree(ctl(farm, "s2", "--json", "connections").stdout())
              .path("connections");
      var entry =
          java.util.stream.StreamSupport.stream(listed2.spliterator(), false)
              .filter(n -> n.path("client").asText().equals(client))
              .findFirst()
              .orElseThrow();
      assertThat(entry.path("bytesIn").asLong()).as("bytes s2 read").isGreaterThan(5 * 20);
      assertThat(entry.path("bytesOut").asLong()).as("bytes s2 wrote").isGreaterThan(5 * 20);
      // The dispatcher's entry switched to s2's fabric address (the sync plane's ownership news).
      ProcessLab.awaitTrue(
          () ->
              ctl(farm, "d1", "connections")
                  .stdout()
                  .lines()
                  .anyMatch(l -> l.contains(client) && l.contains("198.18.1.12")),
          // Each look is a ctl process (a JVM: seconds on a loaded host).
          Duration.ofSeconds(30),
          "d1 forwarding " + client + " to s2");
      // And back again: the loop guard lets s1 take it without forwarding its packets to s2.
      CommandResult back =
          ctl(farm, "s2", "migrate", client, ProcessFarm.VIP + ":80", "--to", "s1");
      assertThat(back.exitCode())
          .as("ctl migrate back: %s %s", back.stdout(), back.stderr())
          .isZero();
      assertThat(farm.client.call(() -> c.get("/whoami.txt").strip())).isEqualTo("s1");
      farm.client.call(
          () -> {
            c.close();
            return null;
          });
    }
  }

  /**
   * Relay mode: s1 and s2 relay to their own nginx. A keep-alive connection moves between two
   * requests (the relay follows HTTP to find the boundary); the target opens its own upstream
   * connection, and the next answers come from s2's nginx.
   */
  @Test
  void aRelayedKeepAliveConnectionMovesBetweenRequests() throws Exception {
    try (ProcessFarm farm =
        farm("mig-relay", ProcessFarm.Options.DEFAULT.withSync("").relaying())) {
      KeepAliveClient c = KeepAliveClient.landingOn(farm, "s1");
      moveToS2(farm, c, "relay migration");
      farm.client.call(
          () -> {
            c.close();
            return null;
          });
    }
  }

  /**
   * Port 80 in l4 mode, relayed to nginx: the relay does not follow HTTP, so a move is refused
   * (with the reason) unless the operator forces it; forced, the connection moves as it is and,
   * being idle between two HTTP requests, carries on with s2's nginx.
   */
  @Test
  void anL4RelayedConnectionMovesOnlyWhenForced() throws Exception {
    String l4 =
        """
        vips:
          - address: %1$s
            port: 80
            mode: l4
            default-pool: app
          - address: %1$s
            port: 443
            mode: http
            default-pool: app
        pools:
          app:
            balance: round-robin
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
              - { node: s2, fabric-address: 198.18.1.12 }
        """
            .formatted(ProcessFarm.VIP);
    try (ProcessFarm farm =
        farm("mig-l4", ProcessFarm.Options.DEFAULT.withSync("").relaying().routing(l4))) {
      KeepAliveClient c = KeepAliveClient.landingOn(farm, "s1");
      String client = c.localAddress();
      CommandResult refused =
          ctl(farm, "s1", "migrate", client, ProcessFarm.VIP + ":80", "--to", "s2");
      assertThat(refused.exitCode()).as("ctl migrate without --force").isNotZero();
      assertThat(refused.stdout() + refused.stderr()).contains("does not follow HTTP");
      moveToS2(farm, c, "forced l4 migration", "--force");
      farm.client.call(
          () -> {
            c.close();
            return null;
          });
    }
  }

  /**
   * curl downloading /big.bin at 5 MB/s into {@code out}, in the client's namespace: ~21 s, to
   * outlast finding it and the move, each a {@code baton ctl} JVM that takes seconds on a loaded
   * host (at 20 MB/s a CI host once ended the download before the move ran).
   */
  private static Process startDownload(ProcessFarm farm, Path out) {
    return farm.client.start(
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
  }

  @Test
  void aDownloadMovedMidStreamArrivesByteExact() throws Exception {
    try (ProcessFarm farm = farm("mig-dl")) {
      Path out = farm.lab.dir().resolve("download.bin");
      Process curl = startDownload(farm, out);
      ProcessFarm.Served listed = farm.awaitTheOneConnection(80);
      String owner = listed.server();
      String client = listed.client();
      long before = Files.exists(out) ? Files.size(out) : 0;
      String target = owner.equals("s1") ? "s2" : "s1";
      CommandResult moved =
          ctl(farm, owner, "migrate", client, ProcessFarm.VIP + ":80", "--to", target);
      boolean inFlight = curl.isAlive();
      assertThat(moved.exitCode())
          .as("ctl migrate: %s %s", moved.stdout(), moved.stderr())
          .isZero();
      System.out.println(
          "migration mid-download after " + before + " bytes: " + moved.stdout().strip());
      assertThat(curl.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("curl ends").isTrue();
      assertThat(curl.exitValue()).as("curl's exit status").isZero();
      assertThat(inFlight).as("the download was in flight when the move answered").isTrue();
      assertThat(Farm.sha256(out))
          .as("the download's SHA-256")
          .isEqualTo(Farm.sha256(farm.bigFile));
    }
  }

  /**
   * The target of a move is killed (SIGKILL) once the source has its fabric session to it, while
   * the source waits for the download's safe point. Whatever the outcome, the connection has one
   * owner or none: it stays and the download arrives byte-exact, or it is lost and the client ends
   * with a short prefix of the file, never wrong bytes and never a hang.
   */
  @Test
  void aTargetKilledDuringAMoveLeavesOneOwnerOrNoneAndNoWrongByte() throws Exception {
    try (ProcessFarm farm = farm("mig-kill")) {
      Path out = farm.lab.dir().resolve("download.bin");
      Process curl = startDownload(farm, out);
      ProcessFarm.Served listed = farm.awaitTheOneConnection(80);
      String owner = listed.server();
      String client = listed.client();
      String source = owner;
      String target = owner.equals("s1") ? "s2" : "s1";
      String sourceFabric = source.equals("s1") ? "198.18.1.11" : "198.18.1.12";
      String flow = client;
      var move =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () ->
                  ctl(
                      farm,
                      source,
                      "--json",
                      "migrate",
                      flow,
                      ProcessFarm.VIP + ":80",
                      "--to",
                      target));
      // The source connects to the target's handoff port when the move starts; then the download's
      // safe point takes a few hundred ms (the regions in flight drain at the client's rate).
      ProcessLab.awaitTrue(
          () ->
              farm.hosts
                  .get(target)
                  .exec("ss", "-Htn", "state", "established", "( sport = :7400 )")
                  .stdout()
                  .contains(sourceFabric),
          Duration.ofSeconds(20),
          "the source's fabric session to " + target);
      farm.kill9(target);
      CommandResult moved = move.get(60, java.util.concurrent.TimeUnit.SECONDS);
      String outcome =
          moved.exitCode() == 0 || moved.stdout().startsWith("{")
              ? new com.fasterxml.jackson.databind.ObjectMapper()
                  .readTree(moved.stdout())
                  .path("outcome")
                  .asText("?")
              : "refused: " + moved.stderr().strip();
      assertThat(curl.waitFor(90, java.util.concurrent.TimeUnit.SECONDS)).as("curl ends").isTrue();
      long got = Files.exists(out) ? Files.size(out) : 0;
      System.out.printf(
          "target %s killed during the move of %s: outcome %s; curl exit %d after %d of %d bytes%n",
          target, flow, outcome, curl.exitValue(), got, ProcessFarm.BIG_FILE_BYTES);
      assertThat(outcome).as("the move's outcome").isNotEqualTo("moved");
      if (curl.exitValue() == 0) {
        assertThat(Farm.sha256(out))
            .as("the download, which stayed")
            .isEqualTo(Farm.sha256(farm.bigFile));
      } else {
        assertThat(got).isLessThan(ProcessFarm.BIG_FILE_BYTES);
        byte[] prefix = Files.readAllBytes(out);
        byte[] original = new byte[prefix.length];
        try (var in = Files.newInputStream(farm.bigFile)) {
          assertThat(in.readNBytes(original, 0, original.length)).isEqualTo(original.length);
        }
        assertThat(java.util.Arrays.equals(prefix, original))
            .as("what arrived is the file's start")
            .isTrue();
      }
    }
  }

  /**
   * Idle keep-alive connections, half of them on s1 ({@code -Dbaton.test.drainConnections}, 200 by
   * default; 2000 puts 1,000 on s1; {@code -Dbaton.test.drainRelay=true} relays them to nginx),
   * then {@code baton ctl drain}: every one moves, each answers its next request from s2. Prints
   * the drain's time and the moves' median and p99.
   */
  @Test
  void aDrainMovesEveryKeepAliveConnectionAndLosesNoRequest() throws Exception {
    int n = Integer.getInteger("baton.test.drainConnections", 200);
    // -Dbaton.test.drainRelay=true: the servers relay to nginx (relay safe points) instead.
    ProcessFarm.Options options = ProcessFarm.Options.DEFAULT.withSync("");
    if (Boolean.getBoolean("baton.test.drainRelay")) options = options.relaying();
    try (ProcessFarm farm = farm("mig-drain", options)) {
      List<KeepAliveClient> clients = new ArrayList<>();
      long onS1 = 0;
      for (int i = 0;
          i < n;
          i++) { // each asks at once: a client may keep only 64 connections waiting to ask
        KeepAliveClient c = farm.client.call(() -> new KeepAliveClient(ProcessFarm.VIP, 80));
        clients.add(c);
        if (farm.client.call(() -> c.get("/whoami.txt")).strip().equals("s1")) onS1++;
      }
      CommandResult drain = ctl(farm, "s1", "--json", "drain", "--deadline", "60s");
      assertThat(drain.exitCode()).as("ctl drain: %s %s", drain.stdout(), drain.stderr()).isZero();
      var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(drain.stdout());
      List<Long> moves = new ArrayList<>();
      json.path("connections").forEach(c -> moves.add(c.path("moveMicros").asLong()));
      moves.sort(null);
      System.out.printf(
          "drain (%s): %d of %d keep-alive connections on s1 moved in %d ms (%d stayed, %d lost); move median"
              + " %.2f ms, p99 %.2f ms%n",
          options.relay() ? "relayed to nginx" : "embedded",
          json.path("moved").asLong(),
          onS1,
          json.path("tookMs").asLong(),
          json.path("stayed").asLong(),
          json.path("lost").asLong(),
          moves.get(moves.size() / 2) / 1000.0,
          moves.get(Math.min(moves.size() - 1, (int) Math.ceil(moves.size() * 0.99) - 1)) / 1000.0);
      assertThat(json.path("moved").asLong()).as("connections moved").isEqualTo(onS1);
      assertThat(json.path("remaining").asLong()).as("connections left on s1").isZero();
      for (KeepAliveClient c : clients) {
        assertThat(farm.client.call(() -> c.get("/whoami.txt").strip()))
            .as("after the drain")
            .isEqualTo("s2");
      }
      assertThat(ctl(farm, "s1", "connections").stdout().lines().count())
          .as("s1's connections (header only)")
          .isEqualTo(1);
      assertThat(
              farm.cli("s1", "drain", "--config", farm.config("s1").toString(), "--off").exitCode())
          .isZero();
      for (KeepAliveClient c : clients) {
        farm.client.call(
            () -> {
              c.close();
              return null;
            });
      }
    }
  }

  /**
   * wrk's keep-alive connections keep requesting while s1 is drained: no request fails, no socket
   * error, no RST reaches the client, and every connection ends on s2. wrk runs until the drain has
   * answered and is then stopped with SIGINT (it prints its report): with a fixed 8 s run, a {@code
   * ctl} process, a JVM of its own, took ~5 s to answer on a loaded host (CI), so wrk could end
   * before the drain started, and the drain then moved nothing while the test waited or passed.
   */
  @Test
  void aDrainUnderKeepAliveLoadFailsNoRequest() throws Exception {
    drainUnderLoad("mig-load", ProcessFarm.Options.DEFAULT.withSync(""));
  }

  /** The same with the servers relaying to nginx: relayed connections move between requests. */
  @Test
  void aDrainOfARelayingServerUnderKeepAliveLoadFailsNoRequest() throws Exception {
    drainUnderLoad("mig-rload", ProcessFarm.Options.DEFAULT.withSync("").relaying());
  }

  private static void drainUnderLoad(String purpose, ProcessFarm.Options options) throws Exception {
    try (ProcessFarm farm = farm(purpose, options)) {
      io.baton.lab.RstCounter rst = io.baton.lab.RstCounter.install(farm.client);
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(60),
              ProcessFarm.url("/whoami.txt"),
              "-t2",
              "-c40",
              "--timeout",
              "5s");
      farm.awaitMetric("s1", "baton_server_connections_active", v -> v >= 1);
      CommandResult drain = ctl(farm, "s1", "--json", "drain", "--deadline", "5s");
      boolean loadedThroughout = wrk.running();
      String report = wrk.stop();
      System.out.println("wrk during the drain:\n" + report);
      assertThat(drain.exitCode()).as("ctl drain: %s %s", drain.stdout(), drain.stderr()).isZero();
      var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(drain.stdout());
      System.out.printf(
          "drain under load: %d moved, %d stayed, %d lost, %d closed in %d ms, %d left%n",
          json.path("moved").asLong(),
          json.path("stayed").asLong(),
          json.path("lost").asLong(),
          json.path("closed").asLong(),
          json.path("tookMs").asLong(),
          json.path("remaining").asLong());
      assertThat(loadedThroughout).as("wrk still running when the drain answered").isTrue();
      assertThat(json.path("moved").asLong()).as("connections moved under load").isPositive();
      assertThat(json.path("remaining").asLong()).as("connections left on s1").isZero();
      assertThat(json.path("lost").asLong()).as("connections lost").isZero();
      assertThat(report)
          .as("wrk's report")
          .contains("requests in")
          .doesNotContain("Socket errors")
          .doesNotContain("Non-2xx");
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();
      assertThat(
              farm.cli("s1", "drain", "--config", farm.config("s1").toString(), "--off").exitCode())
          .isZero();
    }
  }

  /**
   * A connection that never reaches a safe point (its request head half sent) stays through a
   * drain's deadline, and {@code --close-rest} closes it then; the idle ones move. (It used to try
   * eight times to land on s1, reading one segment of each answer: a head and body written apart
   * looked like "not s1", and a full run once failed with no try counted on s1.)
   */
  @Test
  void aDrainWithCloseRestClosesWhatCannotMoveByItsDeadline() throws Exception {
    try (ProcessFarm farm = farm("mig-close")) {
      // Whichever server answers it is the one drained (under load the dispatcher may favour one).
      KeepAliveClient half = farm.client.call(() -> new KeepAliveClient(ProcessFarm.VIP, 80));
      String owner = farm.client.call(() -> half.get("/whoami.txt")).strip();
      String other = owner.equals("s1") ? "s2" : "s1";
      farm.client.call(
          () -> {
            half.sendRaw("GET /whoami.txt HTTP/1.1\r\nHost: x\r\n"); // the head's end never comes
            return null;
          });
      List<KeepAliveClient> idle = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        KeepAliveClient c = farm.client.call(() -> new KeepAliveClient(ProcessFarm.VIP, 80));
        farm.client.call(() -> c.get("/whoami.txt"));
        idle.add(c);
      }
      CommandResult drain = ctl(farm, owner, "--json", "drain", "--deadline", "2s", "--close-rest");
      var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(drain.stdout());
      System.out.println(
          "drain with close-rest: "
              + json.path("moved")
              + " moved, "
              + json.path("closed")
              + " closed, "
              + json.path("remaining")
              + " left");
      assertThat(drain.exitCode()).as("ctl drain: %s %s", drain.stdout(), drain.stderr()).isZero();
      assertThat(json.path("closed").asLong()).as("closed at the deadline").isEqualTo(1);
      assertThat(json.path("remaining").asLong()).isZero();
      assertThat(farm.client.call(half::readsEndOfStream))
          .as("the half-sent connection reads its end")
          .isTrue();
      farm.client.call(
          () -> {
            half.close();
            return null;
          });
      assertThat(
              farm.cli(owner, "drain", "--config", farm.config(owner).toString(), "--off")
                  .exitCode())
          .isZero();
      for (KeepAliveClient c : idle) {
        assertThat(farm.client.call(() -> c.get("/whoami.txt").strip())).isEqualTo(other);
        farm.client.call(
            () -> {
              c.close();
              return null;
            });
      }
    }
  }
}
