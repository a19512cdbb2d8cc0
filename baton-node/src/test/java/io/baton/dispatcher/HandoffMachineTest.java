package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dispatcher.HandoffMachine.State;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffException;
import io.baton.handoff.HandoffReply;
import io.baton.routing.BalanceKind;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.PickContext;
import io.baton.routing.Pool;
import io.baton.transplant.FlowKey;
import io.baton.transplant.TransplantException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * The handoff state machine with fakes for the fabric, the forwarding table, the transplanter and
 * the owner thread (a manual clock): every path ends in exactly one terminal state, and a
 * connection the server may own is never taken back.
 */
class HandoffMachineTest {
  private static final long MS = 1_000_000L;
  private static final long HANDOFF_TIMEOUT_NS = 2000 * MS;
  private static final long ABORT_TIMEOUT_NS = 1000 * MS;
  private static final long INSTALL_TIMEOUT_NS = 1000 * MS;

  private final FakeClient client = new FakeClient();
  private final FakeFabric fabric = new FakeFabric();
  private final FakeForwarding forwarding = new FakeForwarding();
  private final FakeTransplanter transplanter = new FakeTransplanter();
  private final DispatcherStats stats = new DispatcherStats();
  private final LoadTable load = new LoadTable();
  private final java.util.Map<String, String> refused = new java.util.HashMap<>();

  private HandoffMachine machine(String... servers) {
    List<Member> members = new ArrayList<>();
    int host = 10;
    for (String s : servers) {
      Inet4Address ip = ip("198.18.1." + host++);
      members.add(new Member(s, new InetSocketAddress(ip, 7400), ip, 1, false));
      fabric.up.add(s);
    }
    Pool pool = Pool.create("web", BalanceKind.WEIGHTED_ROUND_ROBIN, members, load);
    var cx =
        new HandoffCoordinator.Context(
            fabric,
            forwarding,
            transplanter,
            load,
            stats,
            () -> client.nowNs,
            INSTALL_TIMEOUT_NS,
            ABORT_TIMEOUT_NS,
            node -> refused.get(node));
    return new HandoffMachine(
        cx,
        client,
        stats.forVip("198.18.0.100:80"),
        HANDOFF_TIMEOUT_NS,
        pool,
        PickContext.of(client.flow.clientIp()),
        "GET / host=x");
  }

  @Test
  void acceptedHandsTheConnectionOverAndClosesOurCopySilently() {
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.OFFERED);
    assertThat(forwarding.ops).containsExactly("forward s1 " + fabric.lastId);
    assertThat(fabric.sent).hasSize(1);
    assertThat(fabric.sent.getFirst().state()).isEqualTo(transplanter.encoded);

    fabric.answer(new FabricMessage.Accepted(fabric.lastId));
    client.runAll();

    assertThat(m.state()).isEqualTo(State.HANDED_OFF);
    assertThat(transplanter.calls)
        .containsExactly("freeze", "held", "export", "prepareSilentClose");
    assertThat(client.closed).isTrue();
    assertThat(client.answered503).isFalse();
    // The closed socket takes its frozen mark with it: nothing to lift in the table.
    assertThat(forwarding.ops).containsExactly("forward s1 " + fabric.lastId);
    assertThat(stats.handedOff.sum()).isEqualTo(1);
    assertThat(stats.inFlightHandoffs.sum()).isZero();
    assertThat(load.activeConnections("s1")).isEqualTo(1);
  }

  /**
   * A forward already in place when asked for (the BPF flow map took it at once) sends the HANDOFF
   * in the same step: no task to wait for, no install deadline armed.
   */
  @Test
  void aForwardInPlaceAtOnceSendsTheHandoffInTheSameStep() {
    HandoffMachine m = machine("s1");
    m.start();
    assertThat(m.state()).isEqualTo(State.OFFERED);
    assertThat(fabric.sent).hasSize(1);
    assertThat(client.tasks).isEmpty();
    assertThat(client.timers).as("only the handoff's own deadline").hasSize(1);
    assertThat(transplanter.calls).containsExactly("freeze", "held", "export");
  }

  @Test
  void aForwardWaitingForItsCommitHoldsTheHandoffUntilItIsIn() {
    forwarding.hold = true;
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.INSTALLING);
    assertThat(fabric.sent).isEmpty();
    assertThat(transplanter.calls).containsExactly("freeze");
  }

  @Test
  void aServerTheFarmStateRefusesIsNeverOffered() {
    refused.put("s1", "its health check fails (tcp 127.0.0.1:8080: connection refused)");
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.OFFERED);
    assertThat(forwarding.ops).containsExactly("forward s2 " + fabric.lastId);
    assertThat(stats.skippedByFarmState.sum()).isEqualTo(1);
    assertThat(transplanter.calls).doesNotContain("resume");
  }

  @Test
  void whenTheFarmStateRefusesEveryServerTheDispatcherAnswersItself() {
    refused.put("s1", "no load report for 900 ms");
    refused.put("s2", "not a member of the sync view");
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(client.answered503).isTrue();
    assertThat(forwarding.ops).isEmpty();
    assertThat(transplanter.calls).isEmpty();
  }

  @Test
  void refusalTakesTheConnectionBackAndTriesTheNextServer() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    long first = fabric.lastId;
    fabric.answer(new FabricMessage.Refused(first, "full"));
    client.runAll();

    assertThat(forwarding.ops).contains("cancel " + first);
    assertThat(transplanter.calls)
        .containsSubsequence("freeze", "export", "resume", "freeze", "export");
    assertThat(m.state()).isEqualTo(State.OFFERED);
    assertThat(fabric.sentTo).containsExactly("s1", "s2");

    fabric.answer(new FabricMessage.Accepted(fabric.lastId));
    client.runAll();
    assertThat(m.state()).isEqualTo(State.HANDED_OFF);
    assertThat(stats.refusedByServer.sum()).isEqualTo(1);
  }

  @Test
  void noServerLeftAnswersTheClientItself() {
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    fabric.answer(new FabricMessage.Refused(fabric.lastId, "full"));
    client.runAll();

    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(client.answered503).isTrue();
    assertThat(transplanter.calls).endsWith("resume");
    assertThat(stats.inFlightHandoffs.sum()).isZero();
  }

  @Test
  void overdueAnswerSendsAbortAndAConfirmedAbortTakesItBack() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    long first = fabric.lastId;
    client.advance(HANDOFF_TIMEOUT_NS);
    assertThat(m.state()).isEqualTo(State.ABORTING);
    assertThat(fabric.aborted).containsExactly(first);
    assertThat(transplanter.calls).doesNotContain("resume");

    fabric.answer(first, new FabricMessage.Aborted(first));
    client.runAll();
    assertThat(forwarding.ops).contains("cancel " + first);
    assertThat(transplanter.calls).contains("resume");
    assertThat(m.state()).isEqualTo(State.OFFERED); // on to s2
    assertThat(stats.abortedByServer.sum()).isEqualTo(1);
  }

  @Test
  void lateAcceptanceAfterTheAbortLeavesTheServerAsTheOnlyOwner() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    client.advance(HANDOFF_TIMEOUT_NS);
    fabric.answer(new FabricMessage.Accepted(fabric.lastId));
    client.runAll();

    assertThat(m.state()).isEqualTo(State.HANDED_OFF);
    assertThat(transplanter.calls).doesNotContain("resume");
    assertThat(forwarding.ops).noneMatch(op -> op.startsWith("cancel"));
    assertThat(stats.lateAccepted.sum()).isEqualTo(1);
    assertThat(fabric.sentTo).containsExactly("s1");
  }

  @Test
  void silenceAfterTheAbortResetsTheClientAndKeepsTheEntry() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    client.advance(HANDOFF_TIMEOUT_NS);
    client.advance(ABORT_TIMEOUT_NS);
    client.runAll();

    assertThat(m.state()).isEqualTo(State.ABANDONED);
    // The entry stays; resume (which clears the frozen mark) comes before the RST; never served
    // here, never a next server.
    assertThat(forwarding.ops).containsExactly("forward s1 " + fabric.lastId);
    assertThat(transplanter.calls).containsExactly("freeze", "held", "export", "resume");
    assertThat(client.reset).isTrue();
    assertThat(fabric.sentTo).containsExactly("s1");
    assertThat(stats.inFlightHandoffs.sum()).isZero();
    assertThat(stats.abandoned.sum()).isEqualTo(1);
    // A late answer now changes nothing.
    fabric.answer(new FabricMessage.Accepted(fabric.lastId));
    client.runAll();
    assertThat(m.state()).isEqualTo(State.ABANDONED);
  }

  @Test
  void aSessionLostAfterTheHandoffWasWrittenAbandons() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    fabric.fail(new HandoffException("connection lost", null, true));
    client.runAll();
    assertThat(m.state()).isEqualTo(State.ABANDONED);
    assertThat(client.reset).isTrue();
    assertThat(fabric.sentTo).containsExactly("s1");
  }

  @Test
  void aHandoffNeverWrittenIsTakenBack() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    fabric.fail(new HandoffException("congested", null, false));
    client.runAll();
    assertThat(transplanter.calls).contains("resume");
    assertThat(fabric.sentTo).containsExactly("s1", "s2");
    assertThat(m.state()).isEqualTo(State.OFFERED);
  }

  @Test
  void aFailedForwardingChangeTakesItBack() {
    forwarding.failNextInstall = true;
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    assertThat(stats.installFailures.sum()).isEqualTo(1);
    assertThat(transplanter.calls).containsSubsequence("freeze", "resume", "freeze", "export");
    assertThat(fabric.sentTo).containsExactly("s2");
    assertThat(m.state()).isEqualTo(State.OFFERED);
  }

  @Test
  void aForwardingTableThatNeverAnswersIsGivenUpOnAtTheDeadline() {
    forwarding.hold = true;
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.INSTALLING);
    client.advance(INSTALL_TIMEOUT_NS);
    assertThat(m.state()).isEqualTo(State.TAKING_BACK);
    client.advance(INSTALL_TIMEOUT_NS);
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(transplanter.calls).endsWith("resume");
    assertThat(client.answered503).isTrue();
  }

  @Test
  void aFailedExportTakesItBack() {
    transplanter.failExport = true;
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(stats.exportFailures.sum()).isEqualTo(1);
    assertThat(forwarding.ops).contains("cancel " + fabric.lastId);
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(fabric.sent).isEmpty();
  }

  /**
   * The frozen mark could not be set (issue 8): nothing was exported, the entry goes, the next
   * server gets it.
   */
  @Test
  void aFailedOutputDropTakesItBackAndTriesTheNextServer() {
    transplanter.failHeld = true;
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    assertThat(stats.exportFailures.sum()).isEqualTo(1);
    assertThat(forwarding.ops.get(1)).startsWith("cancel ");
    assertThat(m.state()).isEqualTo(State.OFFERED);
    assertThat(fabric.sentTo).containsExactly("s2");
  }

  @Test
  void aSocketThatCannotBeFrozenIsAnsweredHereWithoutTouchingTheTable() {
    transplanter.failFreeze = true;
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(forwarding.ops).isEmpty();
    assertThat(client.answered503).isTrue();
  }

  @Test
  void aResumeThatFailsClosesTheConnection() {
    transplanter.failResume = true;
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    fabric.answer(new FabricMessage.Refused(fabric.lastId, "no"));
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(client.closed).isTrue();
    assertThat(stats.resumeFailures.sum()).isEqualTo(1);
  }

  @Test
  void serversWhoseFabricIsDownAreSkippedWithoutFreezing() {
    HandoffMachine m = machine("s1");
    fabric.up.clear();
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(transplanter.calls).isEmpty();
  }

  @Test
  void aClientThatIsGoneIsNotMoved() {
    HandoffMachine m = machine("s1");
    client.open = false;
    m.start();
    assertThat(m.state()).isEqualTo(State.CLIENT_GONE);
    assertThat(transplanter.calls).isEmpty();
  }

  @Test
  void anAnswerQueuedBehindTheDeadlineStillCounts() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    fabric.answer(new FabricMessage.Accepted(fabric.lastId)); // its task is queued, not run
    client.fireTimersBeforeTasks(HANDOFF_TIMEOUT_NS);
    client.runAll();
    assertThat(m.state()).isEqualTo(State.HANDED_OFF);
    assertThat(fabric.aborted).isEmpty();
    assertThat(client.reset).isFalse();
  }

  @Test
  void anAbortThatCannotBeSentWaitsForTheFutureOrTheDeadline() {
    fabric.abortSucceeds = false;
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    client.advance(HANDOFF_TIMEOUT_NS);
    assertThat(m.state()).isEqualTo(State.ABORTING);
    client.advance(ABORT_TIMEOUT_NS);
    assertThat(fabric.forgotten).containsExactly(fabric.lastId);
    assertThat(m.state()).isEqualTo(State.ABANDONED);
    assertThat(client.reset).isTrue();
  }

  @Test
  void theDeadlineOfAnEarlierServerNeverFiresForTheNextOne() {
    HandoffMachine m = machine("s1", "s2");
    m.start();
    client.runAll();
    long first = fabric.lastId;
    client.advance(HANDOFF_TIMEOUT_NS - 500 * MS);
    fabric.answer(new FabricMessage.Refused(first, "full"));
    client.runAll();
    assertThat(fabric.sentTo).containsExactly("s1", "s2");
    client.advance(600 * MS); // past s1's old deadline
    assertThat(fabric.aborted).isEmpty();
    assertThat(m.state()).isEqualTo(State.OFFERED);
    client.advance(HANDOFF_TIMEOUT_NS);
    assertThat(fabric.aborted).containsExactly(fabric.lastId);
  }

  @Test
  void aReplacedSessionMeansNotSentAndTheNextServer() {
    HandoffMachine m = machine("s1", "s2");
    fabric.replacedSessions.add("s1");
    m.start();
    client.runAll();
    assertThat(transplanter.calls)
        .containsSubsequence("freeze", "held", "export", "resume", "freeze");
    assertThat(fabric.sentTo).containsExactly("s2");
    assertThat(m.state()).isEqualTo(State.OFFERED);
  }

  @Test
  void aBugBeforeTheOfferTakesTheConnectionBackAndClosesIt() {
    transplanter.bugInExport = true;
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    assertThat(m.state()).isEqualTo(State.UNAVAILABLE);
    assertThat(stats.internalErrors.sum()).isEqualTo(1);
    assertThat(forwarding.ops).contains("cancel " + fabric.lastId);
    assertThat(transplanter.calls).endsWith("resume");
    assertThat(client.closed).isTrue();
    assertThat(stats.inFlightHandoffs.sum()).isZero();
  }

  @Test
  void aBugAfterTheOfferNeverServesTheConnectionHere() {
    HandoffMachine m = machine("s1");
    m.start();
    client.runAll();
    fabric.bugOnAbort = true;
    client.advance(HANDOFF_TIMEOUT_NS);
    client.runAll();
    assertThat(m.state()).isEqualTo(State.ABANDONED);
    assertThat(stats.internalErrors.sum()).isEqualTo(1);
    assertThat(client.reset).isTrue();
    assertThat(client.answered503).isFalse();
    assertThat(stats.inFlightHandoffs.sum()).isZero();
  }

  // ---------------------------------------------------------------------------------- fakes

  private static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** The owner thread: queued tasks and timers on a manual clock. */
  private static final class FakeClient implements ClientSide {
    private record Timer(long dueNs, long seq, Runnable task, boolean[] cancelled) {}

    final FlowKey flow = new FlowKey(ip("198.18.0.7"), 40000, ip("198.18.0.100"), 80);
    final List<Runnable> tasks = new ArrayList<>();
    final PriorityQueue<Timer> timers =
        new PriorityQueue<>(
            (a, b) ->
                a.dueNs != b.dueNs ? Long.compare(a.dueNs, b.dueNs) : Long.compare(a.seq, b.seq));
    long nowNs = 1_000_000_000L;
    long seq;
    boolean open = true;
    boolean closed;
    boolean reset;
    boolean answered503;

    @Override
    public FlowKey flow() {
      return flow;
    }

    @Override
    public int fd() {
      return 42;
    }

    @Override
    public boolean isOpen() {
      return open && !closed;
    }

    @Override
    public byte[] alreadyRead() {
      return "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    @Override
    public Runnable schedule(Runnable task, long delayNs) {
      boolean[] cancelled = {false};
      timers.add(new Timer(nowNs + delayNs, seq++, task, cancelled));
      return () -> cancelled[0] = true;
    }

    @Override
    public boolean serveLocally() {
      return false;
    }

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public void reset() {
      reset = true;
      closed = true;
    }

    @Override
    public boolean answerUnavailable() {
      answered503 = true;
      closed = true;
      return true;
    }

    void runAll() {
      while (!tasks.isEmpty()) tasks.removeFirst().run();
    }

    /**
     * Moves the clock and runs the due timers before the queued tasks (a race the loop can lose).
     */
    void fireTimersBeforeTasks(long ns) {
      nowNs += ns;
      while (!timers.isEmpty() && timers.peek().dueNs() <= nowNs) {
        Timer t = timers.poll();
        if (!t.cancelled()[0]) t.task().run();
      }
    }

    void advance(long ns) {
      runAll();
      nowNs += ns;
      while (!timers.isEmpty() && timers.peek().dueNs() <= nowNs) {
        Timer t = timers.poll();
        if (!t.cancelled()[0]) t.task().run();
        runAll();
      }
    }
  }

  private static final class FakeFabric implements FabricPort {
    final Set<String> up = new HashSet<>();
    final List<FabricMessage.Handoff> sent = new ArrayList<>();
    final List<String> sentTo = new ArrayList<>();
    final List<Long> aborted = new ArrayList<>();
    final List<Long> forgotten = new ArrayList<>();
    final Set<String> replacedSessions = new HashSet<>();
    boolean abortSucceeds = true;
    boolean bugOnAbort;
    final Map<Long, CompletableFuture<HandoffReply>> pending = new HashMap<>();
    long lastId = 100;

    @Override
    public long session(String node) {
      return up.contains(node) ? 1 : NO_SESSION;
    }

    @Override
    public long nextHandoffId(String node) {
      return ++lastId;
    }

    @Override
    public CompletableFuture<HandoffReply> send(
        String node, long session, FabricMessage.Handoff handoff) {
      if (replacedSessions.remove(node)) {
        return CompletableFuture.failedFuture(
            new HandoffException("session replaced", null, false));
      }
      sent.add(handoff);
      sentTo.add(node);
      var f = new CompletableFuture<HandoffReply>();
      pending.put(handoff.handoffId(), f);
      return f;
    }

    @Override
    public boolean abort(String node, long handoffId) {
      if (bugOnAbort) throw new IllegalStateException("bug");
      aborted.add(handoffId);
      return abortSucceeds && pending.containsKey(handoffId);
    }

    @Override
    public void forget(String node, long handoffId, String why) {
      forgotten.add(handoffId);
      var f = pending.remove(handoffId);
      if (f != null) f.completeExceptionally(new HandoffException(why, null, true));
    }

    void answer(HandoffReply reply) {
      answer(reply.handoffId(), reply);
    }

    void answer(long id, HandoffReply reply) {
      var f = pending.remove(id);
      if (f != null) f.complete(reply);
    }

    void fail(HandoffException e) {
      var f = pending.remove(lastId);
      f.completeExceptionally(e);
    }
  }

  private final class FakeForwarding implements ForwardingPort {
    final List<String> ops = new ArrayList<>();
    boolean failNextInstall;
    boolean hold;

    @Override
    public CompletableFuture<Void> forward(FlowKey flow, InetAddress server, long token) {
      String node = fabricNode(server);
      ops.add("forward " + node + " " + token);
      if (hold) return new CompletableFuture<>();
      if (failNextInstall) {
        failNextInstall = false;
        return CompletableFuture.failedFuture(new IllegalStateException("netlink said no"));
      }
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> cancel(FlowKey flow, long token) {
      ops.add("cancel " + token);
      if (hold) return new CompletableFuture<>();
      return CompletableFuture.completedFuture(null);
    }

    private String fabricNode(InetAddress server) {
      int last = server.getAddress()[3];
      return "s" + (last - 9);
    }
  }

  private static final class FakeTransplanter implements Transplanter {
    final List<String> calls = new ArrayList<>();
    final byte[] encoded = {1, 2, 3, 4};
    boolean failFreeze;
    boolean failExport;
    boolean failHeld;
    boolean failResume;
    boolean bugInExport;

    @Override
    public Frozen freeze(int fd, io.baton.transplant.FlowKey flow) throws TransplantException {
      if (failFreeze)
        throw new TransplantException(
            "socket 42 is CLOSING: only ESTABLISHED connections can be moved");
      calls.add("freeze");
      return new Frozen() {
        @Override
        public void held() throws TransplantException {
          if (failHeld) {
            failHeld = false;
            throw new TransplantException("cannot mark socket 42 frozen: EPERM");
          }
          calls.add("held");
        }

        @Override
        public byte[] export(byte[] alreadyRead) throws TransplantException {
          if (failExport) throw new TransplantException("export: EPERM");
          if (bugInExport) throw new NullPointerException("bug");
          calls.add("export");
          return encoded;
        }

        @Override
        public void prepareSilentClose() {
          calls.add("prepareSilentClose");
        }

        @Override
        public void resume() throws TransplantException {
          calls.add("resume");
          if (failResume) throw new TransplantException("resume: EBADF");
        }
      };
    }
  }
}
