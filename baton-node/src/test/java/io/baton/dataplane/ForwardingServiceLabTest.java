package io.baton.dataplane;

import static io.baton.dataplane.ForwardedFlows.B_FABRIC;
import static io.baton.dataplane.ForwardedFlows.VIP;
import static io.baton.dataplane.ForwardedFlows.dispatcherHost;
import static io.baton.dataplane.ForwardedFlows.flow;
import static io.baton.dataplane.ForwardedFlows.ip;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.baton.dataplane.ForwardedFlows.Connection;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.TwoHostTopology;
import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import io.baton.linux.Sockets;
import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher's forwarding service against the kernel's nftables in lab namespaces: entries
 * keyed on the whole 4-tuple, SYNs always answered locally, entries that outlive the process and
 * never expire by time, and the token rules of retire, cancel, dropServer and reconcile. Tests that
 * need packets move real TCP connections with TCP_REPAIR ({@link ForwardedFlows}).
 */
@Tag("lab")
class ForwardingServiceLabTest {
  private static final String TABLE = "baton_fwd_test";
  private static final Duration GRACE = Duration.ofMillis(300);
  private static final Vip HTTP = new Vip(VIP, 80);
  private static final Vip HTTPS = new Vip(VIP, 443);
  private static final Inet4Address S1 = ip("198.18.1.11");
  private static final Inet4Address S2 = ip("198.18.1.12");
  private static final Inet4Address S3 = ip("198.18.1.13");

  /** A test-driven clock: the grace period passes when the test says so. */
  private final AtomicLong clock = new AtomicLong(1_000_000_000L);

  /** Lock files of the namespaces this test started services in (one per lab namespace). */
  private final Set<Path> lockFiles = new HashSet<>();

  @AfterEach
  void removeLockFiles() throws Exception {
    for (Path p : lockFiles) Files.deleteIfExists(p);
  }

  /**
   * A close report moves the entry out of the owner map into the late map for the grace (the
   * kernel's element timeout ends it); a newer connection on the same 4-tuple gets its own owner
   * entry at once, and its close replaces the older close's late element.
   */
  @Test
  void aClosedConnectionsLatePacketsAreForwardedForTheGraceThenNot() throws Exception {
    try (Lab lab = Lab.create("fwd-service")) {
      Host d = dispatcherHost(lab);
      ForwardingService service = start(d, List.of(HTTP));
      try {
        FlowKey reused = flow(40000, 80);
        FlowKey other = flow(40001, 80);
        service.forward(reused, S1, 1).get(5, TimeUnit.SECONDS);
        service.forward(other, S2, 2).get(5, TimeUnit.SECONDS);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(2);

        // Both close; the client then opens a new connection on the same 4-tuple at once.
        assertThat(service.retire(reused, S1, 1).get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(service.retire(other, S2, 2).get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(service.size().get(5, TimeUnit.SECONDS))
            .as("open connections' entries")
            .isZero();
        assertThat(listMap(d, "late"))
            .contains("198.18.0.10 . 40000 . 198.18.0.100 . 80")
            .contains("198.18.0.10 . 40001 . 198.18.0.100 . 80");
        service.forward(reused, S3, 3).get(5, TimeUnit.SECONDS);
        assertThat(listOwner(d))
            .contains("198.18.0.10 . 40000 . 198.18.0.100 . 80 : 198.18.1.13")
            .doesNotContain("40001");
        // The new connection closes within the older one's grace: its late element replaces that
        // one.
        assertThat(service.retire(reused, S3, 3).get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(listMap(d, "late"))
            .contains("198.18.0.10 . 40000 . 198.18.0.100 . 80")
            .contains(": 198.18.1.13")
            .doesNotContain(": 198.18.1.11");
        assertThat(service.removedTotal()).isEqualTo(3);

        // The grace is the kernel's element timeout: it passes in real time.
        awaitTrue(
            () -> service.closingSize().get(5, TimeUnit.SECONDS) == 0,
            "the grace of the closed connections to end");
        awaitTrue(() -> !listMap(d, "late").contains(". 80"), "their late entries to expire");
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isZero();
      } finally {
        service.deleteTable();
      }
      assertThat(d.exec("nft", "list", "tables").stdout()).doesNotContain(TABLE);
    }
  }

  /**
   * A client that reuses a closed connection's 4-tuple during the close grace (as clients behind a
   * NAT, or any busy client whose ports wrap, do): the old connection's late FIN still reaches its
   * server, and the new connection's handshake completes on the dispatcher's own stack. Before, the
   * old entry stayed in the owner map for the grace and took the new handshake's final ACK to the
   * old server: the dispatcher retransmitted its SYN-ACK for as long as the grace lasted (in the
   * benchmark: 1-3 s stalls at the 99th percentile).
   */
  @Test
  void aNewConnectionOnAClosedConnections4TupleIsAnsweredHereDuringTheGrace() throws Exception {
    try (Lab lab = Lab.create("fwd-reuse")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      // A grace far longer than the test: only the SYN can end the old connection's forwarding.
      ForwardingService service = start(hosts.a(), List.of(HTTP), Duration.ofMinutes(2));
      try {
        int l80 = flows.listen(80);
        Connection old = flows.moveToB(flows.connect(46000, 80, l80), service, 1);
        flows.roundTrip(old, hosts.b(), "the first connection, served by b");

        // b closes first and reports it; the client then closes too: its FIN must reach b.
        assertThat(service.retire(old.flow(), B_FABRIC, 1).get(5, TimeUnit.SECONDS)).isTrue();
        hosts
            .b()
            .call(
                () -> {
                  Sockets.close(old.serverFd());
                  return null;
                });
        hosts
            .client()
            .call(
                () -> {
                  Sockets.close(old.clientFd());
                  return null;
                });
        awaitTrue(
            () ->
                hosts
                    .b()
                    .exec("ss", "-Htn", "state", "time-wait", "sport", "= :80")
                    .stdout()
                    .contains(":46000"),
            "b's end of the first connection in TIME_WAIT: the client's late FIN reached b");
        awaitTrue(
            () -> hosts.client().exec("ss", "-Htan", "sport", "= :46000").stdout().isBlank(),
            "the client's end of the first connection to close");
        assertThat(listSet(hosts.a(), "closing")).contains("46000");

        long synAckRetransmits = hosts.a().tcpExtCounter("TCPSynRetrans");
        Connection again = flows.connect(46000, 80, l80);
        assertThat(hosts.a().tcpExtCounter("TCPSynRetrans") - synAckRetransmits)
            .as("SYN-ACKs a retransmitted: the new handshake's ACK reached a, not the old server")
            .isZero();
        assertThat(listSet(hosts.a(), "closing"))
            .as("the SYN reopened the 4-tuple")
            .doesNotContain("46000");
        flows.roundTrip(again, hosts.a(), "the second connection, on a");
        Connection moved = flows.moveToB(again, service, 2);
        flows.roundTrip(moved, hosts.b(), "the second connection, moved to b");
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(1);
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * Issue 7 item 2: while client:P -> VIP:80 is forwarded to a server, a connection from the same
   * client:P to VIP:443 is answered by the dispatcher's own stack (before: its SYN went to the
   * first connection's server, which reset it), and each connection's entry leaves alone.
   */
  @Test
  void aSecondConnectionFromTheSameClientPortIsAnsweredHereAndEachEntryLeavesAlone()
      throws Exception {
    try (Lab lab = Lab.create("fwd-4tuple")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      ForwardingService service = start(hosts.a(), List.of(HTTP, HTTPS));
      try {
        int l80 = flows.listen(80);
        int l443 = flows.listen(443);
        Connection web = flows.moveToB(flows.connect(41000, 80, l80), service, 1);
        flows.roundTrip(web, hosts.b(), "GET / on 80, served by b");

        // Same client port, other VIP port: the SYN must reach a's stack, not b.
        Connection tls = flows.connect(41000, 443, l443);
        flows.roundTrip(tls, hosts.a(), "hello on 443, still on a");
        Connection tlsMoved = flows.moveToB(tls, service, 2);
        flows.roundTrip(tlsMoved, hosts.b(), "443 after its own move");
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(2);

        // The :80 connection closes: its entry goes, the :443 one stays and keeps forwarding.
        assertThat(service.retire(web.flow(), B_FABRIC, 1).get(5, TimeUnit.SECONDS)).isTrue();
        clock.addAndGet(GRACE.toNanos());
        awaitSize(service, 1, "the :80 entry to leave");
        assertThat(listOwner(hosts.a()))
            .contains("41000 . 198.18.0.100 . 443")
            .doesNotContain(". 80 :");
        flows.roundTrip(tlsMoved, hosts.b(), "443 goes on alone");
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * Issue 8: a handoff's event loop commits its turn's changes itself, on its own thread (not the
   * service's owner thread, which opened the table's netlink socket), in one netlink batch; the
   * bookkeeping sees them like queued ones. Before the socket was shared under the service's guard,
   * this failed with "netlink set element socket belongs to thread baton-forwarding".
   */
  @Test
  void aBatchCommittedOnAnotherThreadAppliesItsChangesInOneNetlinkBatch() throws Exception {
    try (Lab lab = Lab.create("fwd-batch")) {
      Host d = dispatcherHost(lab);
      ForwardingService service = start(d, List.of(HTTP));
      try {
        FlowKey a = flow(43000, 80);
        FlowKey b = flow(43001, 80);
        FlowKey c = flow(43002, 80);
        long batchesBefore = service.batchesTotal();
        List<java.util.concurrent.CompletableFuture<Void>> done = new ArrayList<>();
        Thread loop =
            new Thread(
                () -> {
                  ForwardingService.Batch batch = service.batch();
                  done.add(batch.forward(a, S1, 1));
                  done.add(batch.forward(b, S2, 2));
                  done.add(batch.forward(c, S3, 3));
                  done.add(batch.cancel(c, 3));
                  batch.commit();
                  assertThat(batch.isEmpty()).isTrue();
                },
                "test-event-loop");
        loop.start();
        loop.join(10_000);
        assertThat(done).hasSize(4);
        for (var f : done)
          assertThat(f).as("completed on the committing thread").isCompletedWithValue(null);
        assertThat(service.batchesTotal() - batchesBefore)
            .as("netlink batches for four changes")
            .isEqualTo(1);
        assertThat(service.trackedEntries()).isEqualTo(2);
        assertThat(listOwner(d))
            .contains("198.18.0.10 . 43000 . 198.18.0.100 . 80 : 198.18.1.11")
            .contains("198.18.0.10 . 43001 . 198.18.0.100 . 80 : 198.18.1.12")
            .doesNotContain("43002");
        // The handoff's output drop is its socket's mark: no element in the frozen set.
        assertThat(listSet(d, "frozen")).doesNotContain("43000").doesNotContain("43001");

        // The owner thread's queued commands see the batch's bookkeeping: the token matches.
        assertThat(service.retire(a, S1, 1).get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(service.retire(b, S2, 99).get(5, TimeUnit.SECONDS))
            .as("another handoff's token")
            .isFalse();
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * Issue 8: a frozen socket's output carries {@link ConnectionExporter#FROZEN_MARK}, and the table
   * drops it on the front interface, with no set element per handoff: bytes the frozen socket sends
   * (as its timers may) never reach the client, retransmissions included, until resume clears the
   * mark; then a retransmission delivers them.
   */
  @Test
  void aFrozenSocketsOutputIsDroppedByItsMarkUntilItIsResumed() throws Exception {
    try (Lab lab = Lab.create("fwd-mark")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      ForwardingService service = start(hosts.a(), List.of(HTTP));
      try {
        Connection c = flows.connect(44000, 80, flows.listen(80));
        ConnectionExporter.Frozen frozen =
            hosts
                .a()
                .call(
                    () -> {
                      ConnectionExporter.Frozen f =
                          ConnectionExporter.freeze(c.serverFd(), c.flow());
                      f.dropOutput();
                      return f;
                    });
        byte[] data = "sent while frozen".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long deadline = System.nanoTime() + ForwardedFlows.LIMIT.toNanos();
        hosts
            .a()
            .call(
                () -> {
                  io.baton.linux.FdIo.writeAll(c.serverFd(), data, 0, data.length, deadline);
                  return null;
                });
        // 600 ms: the first transmission and the retransmissions after 200 and 400 ms.
        long until = System.nanoTime() + Duration.ofMillis(600).toNanos();
        while (System.nanoTime() < until) {
          assertThat(io.baton.linux.Sockets.poll(c.clientFd(), io.baton.linux.Sockets.POLLIN, 50))
              .as("bytes of a frozen socket reached the client")
              .isZero();
        }
        assertThat(service.trackedEntries()).as("no table entry was needed for the drop").isZero();

        hosts
            .a()
            .call(
                () -> {
                  frozen.resume();
                  return null;
                });
        assertThat(ForwardedFlows.readFully(c.clientFd(), data.length, deadline)).isEqualTo(data);
      } finally {
        service.deleteTable();
      }
    }
  }

  /** Issue 7 item 4: the table outlives the process; the next one adopts its entries. */
  @Test
  void entriesOutliveTheServiceAndTheNextOneAdoptsThem() throws Exception {
    try (Lab lab = Lab.create("fwd-adopt")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      ForwardingService first = start(hosts.a(), List.of(HTTP));
      int l80 = flows.listen(80);
      Connection c = flows.moveToB(flows.connect(42000, 80, l80), first, 7);
      flows.roundTrip(c, hosts.b(), "before the restart");
      first.close();

      // No dispatcher process at all: the kernel still forwards.
      assertThat(listOwner(hosts.a())).contains("42000 . 198.18.0.100 . 80 : 198.18.1.2");
      flows.roundTrip(c, hosts.b(), "while no dispatcher runs");

      ForwardingService second = start(hosts.a(), List.of(HTTP));
      try {
        assertThat(second.adopted()).containsExactly(Map.entry(c.flow(), B_FABRIC));
        assertThat(second.size().get(5, TimeUnit.SECONDS)).isEqualTo(1);
        flows.roundTrip(c, hosts.b(), "after the restart");
        // The adopted entry's token is unknown: a close report with any token retires it.
        assertThat(second.retire(c.flow(), B_FABRIC, 12345).get(5, TimeUnit.SECONDS)).isTrue();
        clock.addAndGet(GRACE.toNanos());
        awaitSize(second, 0, "the adopted entry to leave after its close");
      } finally {
        second.deleteTable();
      }
    }
  }

  @Test
  void aNewServiceEmptiesTheFrozenSetOfTheOldOne() throws Exception {
    try (Lab lab = Lab.create("fwd-frozen")) {
      Host d = dispatcherHost(lab);
      ForwardingService first = start(d, List.of(HTTP));
      first.forward(flow(40000, 80), S1, 1).get(5, TimeUnit.SECONDS);
      first.close(); // a crash in the middle of a handoff
      // A handoff freezes by socket mark now; a table left by a tool (or an older dispatcher)
      // that froze by flow still holds a frozen element.
      d.execOrThrow(
          "nft",
          "add",
          "element",
          "netdev",
          TABLE,
          "frozen",
          "{ 198.18.0.10 . 40000 . 198.18.0.100 . 80 }");
      assertThat(listSet(d, "frozen")).contains("198.18.0.10 . 40000 . 198.18.0.100 . 80");

      ForwardingService second = start(d, List.of(HTTP));
      try {
        assertThat(second.adopted()).containsOnlyKeys(flow(40000, 80));
        assertThat(listSet(d, "frozen")).doesNotContain("40000");
      } finally {
        second.deleteTable();
      }
    }
  }

  @Test
  void aTableOfAnotherShapeIsReplacedCarryingOverWhatStillAppliesAndWarningOfWhatItDrops()
      throws Exception {
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    Logger logger = (Logger) LoggerFactory.getLogger(ForwardingService.class);
    logged.start();
    logger.addAppender(logged);
    try (Lab lab = Lab.create("fwd-shape")) {
      Host d = dispatcherHost(lab);
      ForwardingService first = start(d, List.of(HTTP));
      first.forward(flow(40000, 80), S1, 1).get(5, TimeUnit.SECONDS);
      first.forward(flow(40001, 80), S1, 2).get(5, TimeUnit.SECONDS);
      first.close();

      // A VIP was added in the configuration: the table is replaced, its connections carried over.
      ForwardingService second = start(d, List.of(HTTP, HTTPS));
      assertThat(second.adopted()).containsOnlyKeys(flow(40000, 80), flow(40001, 80));
      assertThat(second.size().get(5, TimeUnit.SECONDS)).isEqualTo(2);
      second.forward(flow(40002, 443), S1, 3).get(5, TimeUnit.SECONDS);
      second.close();
      assertThat(warnings(logged)).isEmpty();

      // The VIP on 443 was removed again: its connection cannot be carried.
      ForwardingService shrunk = start(d, List.of(HTTP));
      assertThat(shrunk.adopted()).containsOnlyKeys(flow(40000, 80), flow(40001, 80));
      shrunk.close();
      assertThat(warnings(logged))
          .containsExactly(
              "forwarding table "
                  + TABLE
                  + " replaced because its devices or VIPs differ from this configuration: 2 forwarding entries carried"
                  + " over, 1 dropped (their VIP is gone or their key format is too old; those connections are reset by"
                  + " this host)");

      // A table of the old key format (client address and port only), as main made it.
      d.call(
          () -> {
            try (Nftables nft = Nftables.open()) {
              nft.run(
                  "delete table netdev "
                      + TABLE
                      + "\n"
                      + "table netdev "
                      + TABLE
                      + " {\n"
                      + "  set vips { type ipv4_addr . inet_service; elements = { 198.18.0.100 . 80 } }\n"
                      + "  map owner { type ipv4_addr . inet_service : ipv4_addr; flags timeout; timeout 3600s;\n"
                      + "    elements = { 198.18.0.10 . 40000 : 198.18.1.11, 198.18.0.10 . 40001 : 198.18.1.11,"
                      + " 198.18.0.10 . 40002 : 198.18.1.11 } }\n"
                      + "  set frozen { type ipv4_addr . inet_service; flags timeout; timeout 60s; }\n"
                      + "  chain ingress {\n"
                      + "    type filter hook ingress device \"front\" priority 0; policy accept;\n"
                      + "    ip daddr . tcp dport @vips fwd ip to ip saddr . tcp sport map @owner device \"fabric\"\n"
                      + "  }\n"
                      + "}\n");
            }
            return null;
          });
      logged.list.clear();
      ForwardingService third = start(d, List.of(HTTP));
      try {
        assertThat(third.adopted()).isEmpty();
        assertThat(warnings(logged))
            .containsExactly(
                "forwarding table "
                    + TABLE
                    + " replaced because it has an older format (no format comment): 0 forwarding entries carried over,"
                    + " 3 dropped (their VIP is gone or their key format is too old; those connections are reset by this"
                    + " host)");
        third.forward(flow(40000, 80), S1, 1).get(5, TimeUnit.SECONDS);
        assertThat(listOwner(d)).contains("198.18.0.10 . 40000 . 198.18.0.100 . 80 : 198.18.1.11");
      } finally {
        third.deleteTable();
      }
    } finally {
      logger.detachAppender(logged);
    }
  }

  @Test
  void aSecondServiceInTheSameNamespaceFailsNamingTheLockAndItsHolder() throws Exception {
    try (Lab lab = Lab.create("fwd-lock")) {
      Host d = dispatcherHost(lab);
      Host other = lab.host("other");
      other.attach(lab.segment("front2"), "198.18.0.2/24");
      other.attach(lab.segment("fabric2"), "198.18.1.2/24");
      ForwardingService first = start(d, List.of(HTTP));
      try {
        String lockFile = d.call(() -> ForwardingTableLock.pathOf(TABLE).toString());
        assertThat(lockFile).matches("/run/baton/" + TABLE + "-net-[0-9]+\\.lock");
        assertThatThrownBy(() -> start(d, List.of(HTTP)))
            .isInstanceOf(LinuxException.class)
            .hasMessage(
                "flock("
                    + lockFile
                    + ") failed: forwarding table "
                    + TABLE
                    + " of this network namespace is held by pid "
                    + ProcessHandle.current().pid()
                    + " (another dispatcher?); stop it first");
        // The first one is unharmed, and another namespace has a lock of its own.
        first.forward(flow(40000, 80), S1, 1).get(5, TimeUnit.SECONDS);
        ForwardingService elsewhere =
            other.call(
                () -> {
                  lockFiles.add(ForwardingTableLock.pathOf(TABLE));
                  return ForwardingService.start(
                      TABLE, "front2", "fabric2", List.of(HTTP), GRACE, clock::get);
                });
        elsewhere.deleteTable();
      } finally {
        first.close();
      }
      // Released by close: the next one starts and adopts.
      ForwardingService next = start(d, List.of(HTTP));
      assertThat(next.adopted()).hasSize(1);
      next.deleteTable();
    }
  }

  @Test
  void closeReportsAndCancelsWithAStaleTokenOrServerChangeNothing() throws Exception {
    try (Lab lab = Lab.create("fwd-tokens")) {
      Host d = dispatcherHost(lab);
      ForwardingService service = start(d, List.of(HTTP));
      try {
        FlowKey f = flow(40000, 80);
        service.forward(f, S1, 10).get(5, TimeUnit.SECONDS);
        assertThat(service.retire(f, S1, 9).get(5, TimeUnit.SECONDS)).as("stale token").isFalse();
        assertThat(service.retire(f, S2, 10).get(5, TimeUnit.SECONDS)).as("other server").isFalse();
        service.cancel(f, 9).get(5, TimeUnit.SECONDS);
        clock.addAndGet(GRACE.toNanos() * 10);
        // Changes are applied in order, so a size read after them sees their effect.
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(1);
        assertThat(listOwner(d)).contains("40000 . 198.18.0.100 . 80 : 198.18.1.11");

        service.cancel(f, 10).get(5, TimeUnit.SECONDS);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isZero();
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * A handoff's forward put into the BPF flow map ahead of its record, whose event loop has not
   * committed the record yet when another thread's change of the flow comes: the server's CLOSED
   * (retire) and its death (dropServer) plan the forward first and find its entry; the loop's
   * record then plans nothing. Neither the nftables table nor the map keeps an entry afterwards.
   */
  @Test
  void changesThatOvertakeAForwardsRecordFindItsEntry() throws Exception {
    try (Lab lab = Lab.create("fwd-ahead")) {
      Host d = dispatcherHost(lab);
      ForwardingService service = start(d, List.of(HTTP));
      FlowForwarding flows =
          d.call(() -> FlowForwarding.attach("front", "fabric", ip("198.18.1.1"), 7401, 42L));
      try {
        service.mirrorInto(flows, s -> false);
        FlowKey f = flow(40000, 80);
        ForwardingService.Batch loop = service.batch();
        Object ahead = service.forwardAhead(f, S1, 10);
        assertThat(ahead).isNotNull();
        assertThat(tcpFlowsIn(flows)).isEqualTo(1);
        var recorded = loop.forwardAhead(f, S1, 10, ahead);
        assertThat(service.retire(f, S1, 10).get(5, TimeUnit.SECONDS))
            .as("the close finds the entry of its token")
            .isTrue();
        loop.commit();
        recorded.get(5, TimeUnit.SECONDS);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isZero();
        assertThat(listOwner(d)).doesNotContain("40000");
        assertThat(tcpFlowsIn(flows)).as("a direct close leaves the map at once").isZero();

        FlowKey g = flow(40001, 80);
        Object ahead2 = service.forwardAhead(g, S1, 11);
        var recorded2 = loop.forwardAhead(g, S1, 11, ahead2);
        assertThat(service.dropServer(S1).get(5, TimeUnit.SECONDS)).isEqualTo(1);
        loop.commit();
        recorded2.get(5, TimeUnit.SECONDS);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isZero();
        assertThat(tcpFlowsIn(flows)).isZero();
        assertThat(service.putAheadTotal()).isEqualTo(2);
        assertThat(service.mirrorFailures()).isZero();
      } finally {
        service.deleteTable();
        flows.close();
      }
    }
  }

  private static int tcpFlowsIn(FlowForwarding flows) throws Exception {
    int[] n = {0};
    flows.forEachTcp(f -> n[0]++);
    return n[0];
  }

  @Test
  void dropServerRemovesEveryEntryOfThatServerOnly() throws Exception {
    try (Lab lab = Lab.create("fwd-drop")) {
      Host d = dispatcherHost(lab);
      ForwardingService service = start(d, List.of(HTTP));
      try {
        for (int i = 0; i < 50; i++)
          service.forward(flow(40000 + i, 80), i % 2 == 0 ? S1 : S2, i + 1);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(50);
        assertThat(service.dropServer(S1).get(5, TimeUnit.SECONDS)).isEqualTo(25);
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(25);
        assertThat(listOwner(d)).doesNotContain("198.18.1.11").contains("198.18.1.12");
        assertThat(service.dropServer(S1).get(5, TimeUnit.SECONDS)).isZero();
      } finally {
        service.deleteTable();
      }
    }
  }

  @Test
  void reconcileRemovesUnownedAddsMissingAndSparesNewerEntries() throws Exception {
    try (Lab lab = Lab.create("fwd-reconcile")) {
      Host d = dispatcherHost(lab);
      ForwardingService first = start(d, List.of(HTTP));
      FlowKey adoptedOwned = flow(40000, 80);
      FlowKey adoptedGone = flow(40001, 80);
      FlowKey otherServers = flow(40002, 80);
      first.forward(adoptedOwned, S1, 1).get(5, TimeUnit.SECONDS);
      first.forward(adoptedGone, S1, 2).get(5, TimeUnit.SECONDS);
      first.forward(otherServers, S2, 3).get(5, TimeUnit.SECONDS);
      first.close();

      ForwardingService service = start(d, List.of(HTTP));
      try {
        FlowKey installedBefore = flow(40003, 80);
        service.forward(installedBefore, S1, 4).get(5, TimeUnit.SECONDS);
        long sessionUpNs = clock.addAndGet(1000);
        clock.addAndGet(1000);
        FlowKey installedAfter = flow(40004, 80); // handed off after the session came up
        service.forward(installedAfter, S1, 5).get(5, TimeUnit.SECONDS);
        FlowKey missing = flow(40005, 80);
        FlowKey notOurVip = new FlowKey(ip("198.18.0.10"), 40006, VIP, 8080);

        ForwardingService.Reconciled r =
            service
                .reconcile(S1, Map.of(adoptedOwned, 1L, missing, 6L, notOurVip, 7L), sessionUpNs)
                .get(5, TimeUnit.SECONDS);
        assertThat(r).isEqualTo(new ForwardingService.Reconciled(2, 1));
        String listed = listOwner(d);
        assertThat(listed)
            .contains("40000 .")
            .contains("40002 .")
            .contains("40004 .")
            .contains("40005 .")
            .doesNotContain("40001 .")
            .doesNotContain("40003 .")
            .doesNotContain("40006 .");
        assertThat(service.size().get(5, TimeUnit.SECONDS)).isEqualTo(4);
        // The adopted entry learnt its token: a close report with another one is stale now.
        assertThat(service.retire(adoptedOwned, S1, 99).get(5, TimeUnit.SECONDS)).isFalse();
        assertThat(service.retire(missing, S1, 6).get(5, TimeUnit.SECONDS)).isTrue();
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * Issue 7 item 5: an entry lives as long as its connection. Main gave every entry a fixed
   * lifetime (1 h, here shortened to 2 s); now a busy connection outlives several seconds.
   */
  @Test
  void aBusyConnectionsEntryNeverExpires() throws Exception {
    try (Lab lab = Lab.create("fwd-noexpiry")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      ForwardingService service = start(hosts.a(), List.of(HTTP));
      try {
        int l80 = flows.listen(80);
        Connection c = flows.moveToB(flows.connect(43000, 80, l80), service, 1);
        assertThat(listOwner(hosts.a())).doesNotContain("expires").doesNotContain("timeout");
        long until = System.nanoTime() + Duration.ofSeconds(4).toNanos();
        int rounds = 0;
        while (System.nanoTime() < until) { // bounded by the time, each round by its deadline
          flows.roundTrip(c, hosts.b(), "round " + rounds++);
          assertThat(service.size().get(5, TimeUnit.SECONDS))
              .as("entry after %d rounds", rounds)
              .isEqualTo(1);
        }
        assertThat(rounds).isGreaterThan(10);
      } finally {
        service.deleteTable();
      }
    }
  }

  /**
   * Not an assertion on time: what adopting 10,000 and 100,000 entries costs, printed. Other sizes
   * with {@code -Dbaton.test.adoptSizes=10000,1000000}.
   */
  @Test
  void adoptsTenAndAHundredThousandEntries() throws Exception {
    int[] sizes =
        java.util.Arrays.stream(
                System.getProperty("baton.test.adoptSizes", "10000,100000").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    try (Lab lab = Lab.create("fwd-adopt-many")) {
      Host d = dispatcherHost(lab);
      for (int n : sizes) {
        d.call(
            () -> {
              try (DirectForwardingTable t =
                  DirectForwardingTable.create(TABLE, "front", "fabric", List.of(HTTP))) {
                for (int done = 0; done < n; done += 5000) {
                  List<DirectForwardingTable.Op> ops = new ArrayList<>();
                  for (int i = done; i < Math.min(n, done + 5000); i++) {
                    Inet4Address client =
                        ip("10." + (i >>> 16 & 0xff) + "." + (i >>> 8 & 0xff) + "." + (i & 0xff));
                    ops.add(
                        new DirectForwardingTable.Forward(
                            new FlowKey(client, 1024 + i % 60000, VIP, 80), S1, false));
                  }
                  t.apply(ops);
                }
              }
              return null;
            });
        // A first start warms the JIT up (and adopts too); the second one is measured.
        ForwardingService warm = start(d, List.of(HTTP));
        warm.close();
        long t0 = System.nanoTime();
        ForwardingService service = start(d, List.of(HTTP));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        try {
          assertThat(service.adopted()).hasSize(n);
          System.out.printf("adopting %d forwarding entries at start: %d ms%n", n, ms);
        } finally {
          service.close();
        }
      }
    }
  }

  private ForwardingService start(Host host, List<Vip> vips) throws Exception {
    return start(host, vips, GRACE);
  }

  private ForwardingService start(Host host, List<Vip> vips, Duration grace) throws Exception {
    return host.call(
        () -> {
          lockFiles.add(ForwardingTableLock.pathOf(TABLE));
          return ForwardingService.start(TABLE, "front", "fabric", vips, grace, clock::get);
        });
  }

  private interface Condition {
    boolean holds() throws Exception;
  }

  private static void awaitTrue(Condition condition, String what) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.holds()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(20); // polling interval of a deadline-bounded wait
    }
  }

  private static void awaitSize(ForwardingService service, int size, String what) throws Exception {
    awaitTrue(() -> service.size().get(5, TimeUnit.SECONDS) == size, what);
  }

  /**
   * The table as nft lists it, without its frozen set and its closed connections' late map and
   * closing set: the VIPs, the owner maps and the chains.
   */
  private static String listOwner(Host d) {
    String table = d.execOrThrow("nft", "list", "table", "netdev", TABLE).stdout();
    return table.replaceAll("(?s)\\t(set frozen|map late|set closing) \\{.*?\\n\\t\\}\\n", "");
  }

  private static String listMap(Host d, String map) {
    return d.execOrThrow("nft", "list", "map", "netdev", TABLE, map).stdout();
  }

  private static String listSet(Host d, String set) {
    return d.execOrThrow("nft", "list", "set", "netdev", TABLE, set).stdout();
  }

  private static List<String> warnings(ListAppender<ILoggingEvent> logged) {
    return logged.list.stream()
        .filter(e -> e.getLevel() == Level.WARN)
        .map(ILoggingEvent::getFormattedMessage)
        .toList();
  }
}
