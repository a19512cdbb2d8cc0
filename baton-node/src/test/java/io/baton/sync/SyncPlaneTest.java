package io.baton.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Real JGroups channels on loopback addresses (127.0.x.y, one per node, the sync port on each): in
 * one process, so that a test can pause one node's reports or change its health; the farm of
 * separate processes in lab namespaces is {@code SyncFarmLabTest} in baton-cli.
 */
class SyncPlaneTest {
  private static final byte[] KEY = "0123456789abcdef0123456789abcdef".getBytes();
  private static final byte[] OTHER_KEY = "fedcba9876543210fedcba9876543210".getBytes();
  private static final Duration LIMIT = Duration.ofSeconds(20);
  private final int subnet = ThreadLocalRandom.current().nextInt(100, 250);
  private final List<SyncPlane> planes = new ArrayList<>();

  @AfterEach
  void closeAll() {
    planes.forEach(SyncPlane::close);
  }

  private Inet4Address address(int host) throws Exception {
    return (Inet4Address) InetAddress.getByName("127.0." + subnet + "." + host);
  }

  private SyncSettings settings(String node, int host, int nodes, byte[] key) throws Exception {
    return settings(node, "server", host, nodes, key);
  }

  private SyncSettings settings(String node, String roles, int host, int nodes, byte[] key)
      throws Exception {
    List<Inet4Address> seeds = new ArrayList<>();
    for (int i = 1; i <= nodes; i++) seeds.add(address(i));
    return new SyncSettings(
        node,
        roles,
        (Inet4Address) InetAddress.getByName("198.18.1." + (10 + host)),
        address(host),
        7500,
        seeds,
        Duration.ofMillis(250),
        Duration.ofMillis(750),
        SyncKeys.derive(key));
  }

  private SyncPlane start(SyncSettings s, Supplier<LocalLoad> load) throws Exception {
    SyncPlane p = SyncPlane.start(s, load, System::nanoTime);
    synchronized (planes) {
      planes.add(p);
    }
    return p;
  }

  private static Supplier<LocalLoad> healthy() {
    return () -> new LocalLoad(0, 0, true, "ok", false);
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline)
        throw new AssertionError("not within " + LIMIT + ": " + what);
      Thread.sleep(5); // polling a condition with a deadline
    }
  }

  @Test
  void fiveNodesStartedTogetherFormOneViewAndSeeEachOtherEligible() throws Exception {
    int n = 5;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      long startNs = System.nanoTime();
      List<Future<SyncPlane>> started = new ArrayList<>();
      for (int i = 1; i <= n; i++) {
        SyncSettings s = settings("n" + i, i, n, KEY);
        started.add(pool.submit(() -> start(s, healthy())));
      }
      for (Future<SyncPlane> f : started) f.get();
      await(
          () -> planes.stream().allMatch(p -> p.viewSize() == n), "a view of " + n + " everywhere");
      long viewNs = System.nanoTime() - startNs;
      await(
          () ->
              planes.stream()
                  .allMatch(
                      p -> {
                        for (int i = 1; i <= n; i++)
                          if (p.farm().refusal("n" + i) != null) return false;
                        return true;
                      }),
          "every node eligible in every node's snapshot");
      long eligibleNs = System.nanoTime() - startNs;
      System.out.printf(
          "sync: %d nodes started together: one view after %d ms, all eligible after %d ms%n",
          n, viewNs / 1_000_000, eligibleNs / 1_000_000);
      assertThat(planes).allSatisfy(p -> assertThat(p.reportsRejected()).isZero());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aNodeWithoutTheClusterKeyCannotJoin() throws Exception {
    SyncPlane a = start(settings("a", 1, 3, KEY), healthy());
    SyncPlane b = start(settings("b", 2, 3, KEY), healthy());
    await(() -> a.viewSize() == 2 && b.viewSize() == 2, "a and b in one view");
    // The intruder finds them (discovery is not secret) but its join request is encrypted under
    // another key: nobody answers, and after its join attempts it founds a cluster of its own.
    SyncPlane intruder = start(settings("intruder", 3, 3, OTHER_KEY), healthy());
    assertThat(intruder.viewSize()).isEqualTo(1);
    await(() -> intruder.reportsSent() >= 4, "the intruder reporting");
    assertThat(a.viewSize()).isEqualTo(2);
    assertThat(b.viewSize()).isEqualTo(2);
    assertThat(a.farm().refusal("intruder")).isEqualTo("not a member of the sync view");
    assertThat(a.farm().snapshot().report("intruder")).isNull();
    assertThat(a.farm().refusal("b")).isNull();
  }

  @Test
  void aNodeWhoseReportsStopGoesStaleAndOneThatLeavesIsRefusedAtOnce() throws Exception {
    AtomicBoolean frozen = new AtomicBoolean();
    SyncPlane a = start(settings("a", 1, 3, KEY), healthy());
    SyncPlane b =
        start(
            settings("b", 2, 3, KEY),
            () -> {
              while (frozen.get())
                Thread.onSpinWait(); // the timer thread hangs like a stopped process
              return new LocalLoad(0, 0, true, "ok", false);
            });
    SyncPlane c = start(settings("c", 3, 3, KEY), healthy());
    await(
        () -> a.farm().refusal("b") == null && a.farm().refusal("c") == null,
        "b and c eligible at a");
    long freezeNs = System.nanoTime();
    frozen.set(true);
    try {
      await(() -> a.farm().refusal("b") != null, "b refused at a");
      long staleMs = (System.nanoTime() - freezeNs) / 1_000_000;
      System.out.printf(
          "sync: reports stopped -> refused after %d ms (%s)%n", staleMs, a.farm().refusal("b"));
      assertThat(a.farm().refusal("b")).startsWith("no load report for");
      assertThat(a.viewSize()).as("still a member: only its reports stopped").isEqualTo(3);
    } finally {
      frozen.set(false);
    }
    await(() -> a.farm().refusal("b") == null, "b eligible again once it reports");
    long leaveNs = System.nanoTime();
    c.close();
    await(() -> a.farm().refusal("c") != null, "c refused at a");
    System.out.printf(
        "sync: clean leave -> refused after %d ms%n", (System.nanoTime() - leaveNs) / 1_000_000);
    assertThat(a.farm().refusal("c")).isEqualTo("not a member of the sync view");
  }

  @Test
  void aFailingHealthCheckTakesANodeOutAndItsRecoveryBringsItBack() throws Exception {
    AtomicBoolean sick = new AtomicBoolean();
    SyncPlane a = start(settings("a", 1, 2, KEY), healthy());
    start(
        settings("b", 2, 2, KEY),
        () ->
            sick.get()
                ? new LocalLoad(3, 10, false, "http 127.0.0.1:8080/: status 503", false)
                : new LocalLoad(3, 10, true, "ok", false));
    await(() -> a.farm().refusal("b") == null, "b eligible at a");
    sick.set(true);
    await(() -> a.farm().refusal("b") != null, "b refused at a");
    assertThat(a.farm().refusal("b"))
        .isEqualTo("its health check fails (http 127.0.0.1:8080/: status 503)");
    sick.set(false);
    await(() -> a.farm().refusal("b") == null, "b back at a");
    assertThat(a.farm().snapshot().report("b").activeConnections()).isEqualTo(3);
    assertThat(a.bytesSent()).isPositive();
  }

  private static io.baton.transplant.FlowKey flow(int port) throws Exception {
    return new io.baton.transplant.FlowKey(
        (Inet4Address) InetAddress.getByName("198.18.0.10"),
        port,
        (Inet4Address) InetAddress.getByName("198.18.0.100"),
        80);
  }

  @Test
  void aServersOwnershipReachesEveryDispatcherInOrderAndALateJoinerGetsAllOfIt() throws Exception {
    List<OwnershipUpdate.Change> open = java.util.Collections.synchronizedList(new ArrayList<>());
    SyncPlane s1 = start(settings("s1", 1, 3, KEY), healthy());
    s1.publishOwnership(
        () -> {
          synchronized (open) { // the timer thread copies while the test adds
            return List.copyOf(open);
          }
        });
    List<OwnershipUpdate.Change> atD1 = java.util.Collections.synchronizedList(new ArrayList<>());
    SyncPlane d1 = start(settings("d1", "dispatcher", 2, 3, KEY), healthy());
    d1.receiveOwnership(
        u -> {
          assertThat(u.node()).isEqualTo("s1");
          assertThat(u.fabricAddress().getHostAddress()).isEqualTo("198.18.1.11");
          atD1.addAll(u.changes());
          return true;
        });
    await(() -> d1.viewSize() == 2 && s1.viewSize() == 2, "one view");
    for (int i = 0; i < 5000; i++) {
      var c = new OwnershipUpdate.Change(true, flow(10_000 + i), 1000 + i);
      open.add(c);
      s1.ownershipChanged(c);
    }
    for (int i = 0; i < 100; i++) {
      var c = new OwnershipUpdate.Change(false, flow(10_000 + i), 1000 + i);
      open.remove(new OwnershipUpdate.Change(true, flow(10_000 + i), 1000 + i));
      s1.ownershipChanged(c);
    }
    // The receiver thread appends while this one reads: every read holds the list's lock.
    await(
        () -> {
          synchronized (atD1) {
            return atD1.stream().filter(c -> !c.open()).count() == 100;
          }
        },
        "the closes at d1");
    // In order: every close after its open (the opens may also come again in a full resend).
    synchronized (atD1) {
      for (int i = 0; i < 100; i++) {
        var f = flow(10_000 + i);
        int opened = -1, closed = -1;
        for (int j = 0; j < atD1.size(); j++) {
          var c = atD1.get(j);
          if (c.flow().equals(f) && c.open() && opened < 0) opened = j;
          if (c.flow().equals(f) && !c.open()) closed = j;
        }
        assertThat(opened).as("open of %s", f).isGreaterThanOrEqualTo(0).isLessThan(closed);
      }
    }
    long distinctOpens;
    synchronized (atD1) {
      distinctOpens =
          atD1.stream()
              .filter(OwnershipUpdate.Change::open)
              .map(OwnershipUpdate.Change::flow)
              .distinct()
              .count();
    }
    assertThat(distinctOpens).isEqualTo(5000);
    // A dispatcher that joins now, and sets its sink only after a while, gets the 4,900 open ones.
    java.util.Set<io.baton.transplant.FlowKey> atD2 =
        java.util.concurrent.ConcurrentHashMap.newKeySet();
    SyncPlane d2 = start(settings("d2", "dispatcher", 3, 3, KEY), healthy());
    await(() -> d2.ownershipChangesReceived() >= 4900, "s1's full list at d2");
    d2.receiveOwnership(
        u -> {
          u.changes().forEach(c -> atD2.add(c.flow()));
          return true;
        });
    assertThat(atD2).hasSize(4900).doesNotContain(flow(10_000)).contains(flow(14_999));
    assertThat(d1.ownershipRejected()).isZero();
    System.out.printf(
        "sync: 5,100 ownership changes, %d bytes sent by s1 (%.1f per change, reports included)%n",
        s1.bytesSent(), s1.bytesSent() / 5100.0);
  }

  @Test
  void aSyncAddressThatIsNotHereOrAPortThatIsTakenIsSaidPlainly() throws Exception {
    SyncSettings elsewhere =
        new SyncSettings(
            "a",
            "server",
            address(1),
            (Inet4Address) InetAddress.getByName("198.18.99.99"),
            7500,
            List.of(address(1)),
            Duration.ofMillis(250),
            Duration.ofMillis(750),
            SyncKeys.derive(KEY));
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> SyncPlane.start(elsewhere, healthy(), System::nanoTime))
        .isInstanceOf(java.io.IOException.class)
        .hasMessage(
            "cannot join the sync plane on 198.18.99.99:7500: the sync address 198.18.99.99 is not on any"
                + " interface of this host (see node.interfaces.sync)");
    try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
      taken.bind(new java.net.InetSocketAddress(address(1), 7501));
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> start(settings("a", 1, 1, KEY), healthy()))
          .isInstanceOf(java.io.IOException.class)
          .hasMessageContaining("port 7501 on " + address(1).getHostAddress() + " is taken")
          .hasMessageContaining("the sync plane needs sync.port and sync.port + 1");
    }
  }
}
