package io.baton.cli.farm;

import static io.baton.cli.farm.FarmChecks.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The sync plane with real processes ({@code baton dispatcher|server --config}) on a sync network
 * of their own, hosts with the kernel's defaults: the farm forms one view, a server killed or
 * frozen under load gets no new connection a second after the fault while the connections other
 * servers serve see no error, and a server whose health check fails is taken out and put back.
 */
@Tag("lab")
class SyncFarmLabTest {
  private static final Duration CURL = Duration.ofSeconds(10);
  private static final long SECOND_NS = 1_000_000_000L;

  @Test
  void theFarmFormsOneViewAndEveryNodeSeesTheOthersEligible() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("sf-view", ProcessFarm.Options.DEFAULT.withSync(""))) {
      long startNs = System.nanoTime();
      farm.startAll();
      for (String node : List.of("d1", "s1", "s2")) {
        farm.awaitMetric(node, "baton_sync_view_members", v -> v == 3);
      }
      System.out.printf(
          "sync farm: servers, then the dispatcher, started; one view of 3 after %d ms (JVM starts"
              + " included); joins: %s%n",
          (System.nanoTime() - startNs) / 1_000_000,
          List.of("s1", "s2", "d1").stream().map(n -> n + " " + joinTime(farm.log(n))).toList());
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      List<String> answers = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        CommandResult r = farm.curl(CURL, ProcessFarm.url("/whoami.txt"));
        assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
        answers.add(r.stdout().strip());
      }
      assertThat(answers).contains("s1", "s2");
      assertThat(farm.metric("d1", "baton_sync_reports_accepted_total")).isPositive();
      assertThat(farm.metric("d1", "baton_sync_reports_rejected_total")).isZero();
      assertThat(farm.metric("d1", "baton_sync_bytes_received_total")).isPositive();
    }
  }

  /**
   * A pool that lists no servers ({@code members: discover}) takes every server that reports
   * serving its VIP port; a server that is killed leaves it, and comes back when it starts again.
   */
  @Test
  void aDiscoveringPoolTakesTheServersOfItsVipPortFromTheSyncPlane() throws Exception {
    try (ProcessFarm farm =
        new ProcessFarm("sf-discover", ProcessFarm.Options.DEFAULT.discovering()).startAll()) {
      List<String> answers = new ArrayList<>();
      for (int i = 0; i < 6; i++)
        answers.add(farm.curl(CURL, ProcessFarm.url("/whoami.txt")).stdout().strip());
      assertThat(answers)
          .as("answers from a pool that named no server; d1's log:%n%s", farm.log("d1"))
          .contains("s1", "s2");
      assertThat(farm.log("d1"))
          .contains("pool app for 198.18.0.100:80 now has [s1, s2] (from the sync plane)");
      farm.kill9("s1");
      awaitTrue(
          () -> farm.log("d1").contains("pool app for 198.18.0.100:80 now has [s2]"),
          Duration.ofSeconds(20),
          "s1 leaving the pool");
      for (int i = 0; i < 4; i++) {
        CommandResult r = farm.curl(CURL, ProcessFarm.url("/whoami.txt"));
        assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
        assertThat(r.stdout().strip()).isEqualTo("s2");
      }
      farm.start("s1");
      awaitTrue(
          () ->
              farm.log("d1")
                      .lines()
                      .filter(l -> l.contains("pool app for 198.18.0.100:80 now has [s1, s2]"))
                      .count()
                  >= 2,
          Duration.ofSeconds(60),
          "s1 back in the pool");
      // In the pool again; its fabric connection comes back on the client's next reconnect attempt.
      farm.awaitMetric("d1", "baton_fabric_up{server=\"s1\"}", v -> v == 1);
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"s1\"}", v -> v == 1);
      answers.clear();
      for (int i = 0; i < 6; i++)
        answers.add(farm.curl(CURL, ProcessFarm.url("/whoami.txt")).stdout().strip());
      assertThat(answers).contains("s1", "s2");
    }
  }

  @Test
  void aKilledServerGetsNoNewConnectionsWithinASecondAndTheOthersClientsSeeNoError()
      throws Exception {
    faultUnderLoad("sf-kill", "KILL");
  }

  /**
   * A frozen process's kernel keeps its TCP connections (fabric and sync) up: only its silence
   * tells. Its reports stop, and the dispatcher refuses it once the last one is older than
   * stale-after (750 ms), before the fabric's dead-after (1 s).
   */
  @Test
  void aFrozenServerGetsNoNewConnectionsWithinASecond() throws Exception {
    faultUnderLoad("sf-stop", "STOP");
  }

  private void faultUnderLoad(String purpose, String signal) throws Exception {
    try (ProcessFarm farm =
        new ProcessFarm(purpose, ProcessFarm.Options.DEFAULT.withSync("")).startAll()) {
      try {
        faultUnderLoad(farm, signal);
      } catch (Exception | AssertionError e) {
        // What the dispatcher and the surviving server saw is what explains a failure here.
        throw new AssertionError(
            "%s%n%nd1's log:%n%s%ns2's log:%n%s".formatted(e, farm.log("d1"), farm.log("s2")), e);
      }
    }
  }

  private void faultUnderLoad(ProcessFarm farm, String signal) throws Exception {
    for (String s : ProcessFarm.SERVERS) {
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
    }
    // Clients s2 serves on established connections: none of their requests may fail.
    List<KeepAliveClient> onS2 =
        farm.client.call(
            () -> {
              List<KeepAliveClient> found = new ArrayList<>();
              for (int i = 0; i < 12 && found.size() < 3; i++) {
                KeepAliveClient c = new KeepAliveClient(ProcessFarm.VIP, 80);
                if (c.get("/whoami.txt").strip().equals("s2")) found.add(c);
                else c.close();
              }
              return found;
            });
    assertThat(onS2).as("connections landed on s2").hasSize(3);
    List<Probe> probes = Collections.synchronizedList(new ArrayList<>());
    List<String> keptErrors = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean stop = new AtomicBoolean();
    // A new connection every 20 ms, each probe on its own thread: one that hangs on the faulty
    // server does not hold back the next (at most 400 probes, each bounded by a 5 s connect and
    // a 10 s read timeout). The probes are plain HTTP/1.1 over sockets of the client's namespace,
    // not a curl process each: 50 curl processes a second took about a CPU of this 2-CPU host
    // (~20 ms of CPU per `ip netns exec ... curl` here), starved the server agents' fabric
    // loops past the fabric's 1 s dead-after, and so failed the server that was not faulted.
    var schedule = Executors.newSingleThreadScheduledExecutor();
    ExecutorService probers = Executors.newCachedThreadPool();
    ExecutorService kept = Executors.newSingleThreadExecutor();
    long[] faultNs = {0};
    java.util.concurrent.atomic.AtomicInteger launched =
        new java.util.concurrent.atomic.AtomicInteger();
    try {
      schedule.scheduleAtFixedRate(
          () -> {
            if (stop.get() || launched.incrementAndGet() > 400) return;
            probers.submit(
                () -> {
                  long start = System.nanoTime();
                  String answer;
                  try (KeepAliveClient c =
                      KeepAliveClient.over(
                          farm.client.call(SocketChannel::open), ProcessFarm.VIP, 80)) {
                    answer = c.get("/whoami.txt").strip();
                  } catch (Exception e) {
                    answer = "error: " + e;
                  }
                  probes.add(new Probe(start, System.nanoTime(), answer));
                });
          },
          0,
          20,
          TimeUnit.MILLISECONDS);
      Future<?> keptLoop =
          kept.submit(
              () -> {
                for (int i = 0; i < 100_000 && !stop.get(); i++) {
                  KeepAliveClient c = onS2.get(i % onS2.size());
                  // On this thread: the client host's one thread opens the probes' sockets.
                  String answer = c.get("/whoami.txt").strip();
                  if (!answer.equals("s2")) keptErrors.add(answer);
                }
                return null;
              });
      awaitTrue(() -> probes.size() >= 30, Duration.ofSeconds(60), "load before the fault");
      faultNs[0] = System.nanoTime();
      if (signal.equals("KILL")) farm.kill9("s1");
      else farm.signal("s1", "STOP");
      awaitTrue(
          () -> System.nanoTime() > faultNs[0] + 3 * SECOND_NS,
          Duration.ofSeconds(10),
          "3 s of load after the fault");
      stop.set(true);
      schedule.shutdown();
      probers.shutdown();
      assertThat(probers.awaitTermination(30, TimeUnit.SECONDS)).as("probes ended").isTrue();
      keptLoop.get(30, TimeUnit.SECONDS);
      assertThat(farm.metric("d1", "baton_sync_node_eligible{node=\"s1\"}"))
          .as("s1 at d1 after the fault")
          .isZero();
    } finally {
      stop.set(true);
      schedule.shutdownNow();
      probers.shutdownNow();
      kept.shutdownNow();
      if (signal.equals("STOP")) farm.signal("s1", "CONT");
    }
    long fault = faultNs[0];
    if (Boolean.getBoolean("baton.test.verbose")) {
      probes.stream()
          .filter(p -> p.endNs() > fault)
          .sorted(java.util.Comparator.comparingLong(Probe::startNs))
          .limit(60)
          .forEach(
              p ->
                  System.out.printf(
                      "probe %+d ms .. %+d ms: %s%n",
                      (p.startNs() - fault) / 1_000_000,
                      (p.endNs() - fault) / 1_000_000,
                      p.answer()));
    }
    List<Probe> after = probes.stream().filter(p -> p.startNs() > fault).toList();
    long lastToS1Ms =
        after.stream()
            .filter(p -> !p.answer().equals("s2"))
            .mapToLong(p -> (p.startNs() - fault) / 1_000_000)
            .max()
            .orElse(-1);
    long failed = after.stream().filter(p -> p.answer().startsWith("error")).count();
    System.out.printf(
        "sync farm %s: %d connections opened after the fault, %d failed; the last one not served by"
            + " s2 opened %d ms after the fault; requests on s2's established connections: %d failed%n",
        signal, after.size(), failed, lastToS1Ms, keptErrors.size());
    assertThat(after.stream().filter(p -> p.startNs() > fault + SECOND_NS))
        .as("connections opened more than a second after the fault")
        .isNotEmpty()
        .allMatch(p -> p.answer().equals("s2"));
    assertThat(keptErrors).as("requests on connections s2 serves").isEmpty();
    assertThat(farm.metric("d1", "baton_dispatcher_skipped_by_farm_state_total")).isPositive();
    farm.client.call(
        () -> {
          for (KeepAliveClient c : onS2) c.close();
          return null;
        });
  }

  @Test
  void aServerWhoseHealthCheckFailsIsTakenOutAndPutBackWhenItRecovers() throws Exception {
    try (ProcessFarm farm =
        new ProcessFarm(
            "sf-health",
            ProcessFarm.Options.DEFAULT.withSync("{ http: 127.0.0.1:8081, path: /healthz }"))) {
      List<Process> checked = new ArrayList<>();
      for (String s : ProcessFarm.SERVERS) checked.add(healthEndpoint(farm, s));
      farm.startAll();
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      long failNs = System.nanoTime();
      checked.get(0).destroy(); // s1's application stops answering its health check
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"s1\"}", v -> v == 0);
      System.out.printf(
          "sync farm: health check failing -> out of rotation after %d ms%n",
          (System.nanoTime() - failNs) / 1_000_000);
      for (int i = 0; i < 6; i++) {
        CommandResult r = farm.curl(CURL, ProcessFarm.url("/whoami.txt"));
        assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
        assertThat(r.stdout().strip()).as("while s1 is unhealthy").isEqualTo("s2");
      }
      assertThat(farm.log("s1")).contains("health check http 127.0.0.1:8081/healthz failed");
      long recoverNs = System.nanoTime();
      checked.set(0, healthEndpoint(farm, "s1"));
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"s1\"}", v -> v == 1);
      System.out.printf(
          "sync farm: health check passing again -> back after %d ms%n",
          (System.nanoTime() - recoverNs) / 1_000_000);
      List<String> answers = new ArrayList<>();
      for (int i = 0; i < 6; i++)
        answers.add(farm.curl(CURL, ProcessFarm.url("/whoami.txt")).stdout().strip());
      assertThat(answers).contains("s1", "s2");
    }
  }

  /**
   * {@code baton drain}, run on the server's host: no new connections, the established ones stay.
   */
  @Test
  void aDrainedServerKeepsItsConnectionsAndGetsNoNewOnes() throws Exception {
    try (ProcessFarm farm =
        new ProcessFarm("sf-drain", ProcessFarm.Options.DEFAULT.withSync("")).startAll()) {
      for (String s : ProcessFarm.SERVERS) {
        farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"" + s + "\"}", v -> v == 1);
      }
      KeepAliveClient onS1 = KeepAliveClient.landingOn(farm, "s1");
      CommandResult drain = farm.cli("s1", "drain", "--config", farm.config("s1").toString());
      assertThat(drain.exitCode()).as("baton drain: %s", drain.stderr()).isZero();
      assertThat(drain.stdout()).contains("node s1 is draining");
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"s1\"}", v -> v == 0);
      for (int i = 0; i < 6; i++) {
        CommandResult r = farm.curl(CURL, ProcessFarm.url("/whoami.txt"));
        assertThat(r.exitCode()).as("curl: %s", r.stderr()).isZero();
        assertThat(r.stdout().strip()).as("a new connection while s1 drains").isEqualTo("s2");
      }
      assertThat(farm.client.call(() -> onS1.get("/whoami.txt").strip()))
          .as("s1's established connection")
          .isEqualTo("s1");
      assertThat(
              farm.cli("s1", "drain", "--config", farm.config("s1").toString(), "--off").exitCode())
          .isZero();
      farm.awaitMetric("d1", "baton_sync_node_eligible{node=\"s1\"}", v -> v == 1);
      List<String> answers = new ArrayList<>();
      for (int i = 0; i < 6; i++)
        answers.add(farm.curl(CURL, ProcessFarm.url("/whoami.txt")).stdout().strip());
      assertThat(answers).contains("s1", "s2");
      farm.client.call(
          () -> {
            onS1.close();
            return null;
          });
    }
  }

  /**
   * nginx on 127.0.0.1:8081 of {@code node}, answering /healthz with 200: the application's check.
   */
  private static Process healthEndpoint(ProcessFarm farm, String node) throws Exception {
    Host host = farm.hosts.get(node);
    Path dir = Files.createDirectories(farm.lab.dir().resolve("health-" + node));
    Path conf = dir.resolve("nginx.conf");
    Files.writeString(
        conf,
        """
        worker_processes 1;
        master_process off;
        daemon off;
        user root;
        pid %1$s/nginx.pid;
        error_log %1$s/error.log warn;
        events { worker_connections 64; }
        http {
          access_log off;
          client_body_temp_path %1$s/body;
          proxy_temp_path %1$s/proxy;
          fastcgi_temp_path %1$s/fastcgi;
          uwsgi_temp_path %1$s/uwsgi;
          scgi_temp_path %1$s/scgi;
          server {
            listen 127.0.0.1:8081;
            location = /healthz { return 200 "ok\\n"; }
          }
        }
        """
            .formatted(dir));
    Process p = host.start(List.of("nginx", "-c", conf.toString()));
    awaitTrue(
        () ->
            host.exec(
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "http://127.0.0.1:8081/healthz")
                .stdout()
                .strip()
                .equals("200"),
        Duration.ofSeconds(20),
        "the health endpoint on " + node);
    return p;
  }

  /** "N ms" from the node's "joined the farm's cluster in N ms" log line. */
  private static String joinTime(String log) {
    var m = java.util.regex.Pattern.compile("joined the farm's cluster in (\\d+) ms").matcher(log);
    return m.find() ? m.group(1) + " ms" : "(no join line)";
  }

  private record Probe(long startNs, long endNs, String answer) {}
}
