package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffException;
import io.baton.handoff.HandoffReply;
import io.baton.migration.SafePoint;
import io.baton.server.delivery.Movable;
import io.baton.transplant.FlowKey;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The migration state machine with fakes of the application, the fabric, the table and the socket.
 */
class MigrationTest {
  private static final Duration SAFE_POINT = Duration.ofSeconds(5);
  private static final Duration ANSWER = Duration.ofSeconds(2);

  private final EmbeddedChannel loopOwner = new EmbeddedChannel();
  private final List<String> steps = new ArrayList<>();
  private final FakeMovable movable = new FakeMovable();
  private final FakeFabric fabric = new FakeFabric();
  private final FlowKey flow = new FlowKey(ip("198.18.0.10"), 40000, ip("198.18.0.100"), 80);
  private final Inet4Address target = ip("198.18.1.12");

  @AfterEach
  void close() {
    loopOwner.finishAndReleaseAll();
  }

  private CompletableFuture<MigrationOutcome> start() {
    return start(false);
  }

  private CompletableFuture<MigrationOutcome> start(boolean force) {
    var live = new LiveConnections.Live(flow, "d1", 7, "GET /", 0, movable);
    var m =
        new Migration(
            live,
            "s2",
            target,
            fabric,
            new FakeForwarding(),
            (fd, f) -> new FakeSocket(),
            SAFE_POINT,
            ANSWER,
            System::nanoTime,
            force);
    CompletableFuture<MigrationOutcome> done = m.start();
    loopOwner.runPendingTasks();
    return done;
  }

  private void run() {
    loopOwner.runPendingTasks();
    loopOwner.runScheduledPendingTasks();
  }

  @Test
  void aForcedMoveAsksForTheForcedStopAndThenMovesAlike() {
    var done = start(true);
    assertThat(movable.forced).as("forceSuspend, not suspend").isTrue();
    movable.point.setSuccess(new SafePoint(new byte[0], new byte[0]));
    run();
    assertThat(steps).containsExactly("freeze", "forward 198.18.1.12", "held", "export 0");
    assertThat(done).isNotDone();
  }

  @Test
  void aConnectionAtItsSafePointMovesAndItsCopyHereClosesSilently() {
    var done = start();
    movable.point.setSuccess(new SafePoint(new byte[] {9}, new byte[] {'G'}));
    run();
    assertThat(steps).containsExactly("freeze", "forward 198.18.1.12", "held", "export 1");
    assertThat(fabric.sent).hasSize(1);
    assertThat(fabric.sent.getFirst().appState()).containsExactly(9);
    fabric.answer(new FabricMessage.Accepted(fabric.sent.getFirst().handoffId()));
    run();
    assertThat(steps).endsWith("silent close");
    assertThat(movable.closed).isTrue();
    assertThat(done).isCompleted();
    assertThat(done.join().outcome()).isEqualTo("moved");
    // This host forwards the client's packets to the target until the dispatchers switched.
    assertThat(steps).doesNotContain("cancel");
    loopOwner.advanceTimeBy(Migration.SWITCH_GRACE.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    assertThat(steps).endsWith("cancel");
  }

  @Test
  void aRefusalStopsTheForwardingBeforeTheConnectionCarriesOnHere() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    fabric.answer(new FabricMessage.Refused(fabric.sent.getFirst().handoffId(), "full"));
    run();
    assertThat(steps).containsSubsequence("cancel", "resume");
    assertThat(movable.resumed).isEqualTo(1);
    assertThat(movable.closed).isFalse();
    assertThat(done.join().outcome()).isEqualTo("stayed");
    assertThat(done.join().detail()).contains("s2 refused: full");
  }

  @Test
  void noSafePointInTimeLeavesTheConnectionHere() {
    var done = start();
    loopOwner.advanceTimeBy(SAFE_POINT.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    assertThat(done.join().outcome()).isEqualTo("stayed");
    assertThat(done.join().detail()).contains("no safe point within 5000 ms");
    assertThat(movable.resumed).isEqualTo(1);
    assertThat(steps).isEmpty();
  }

  @Test
  void anUndeliveredHandoffIsTakenBack() {
    var done = start();
    fabric.failNext = new HandoffException("congested", null, false);
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    assertThat(done.join().outcome()).isEqualTo("stayed");
    assertThat(steps).containsSubsequence("cancel", "resume");
  }

  @Test
  void anOverdueAnswerIsAbortedAndAnAbortedHandoffStaysHere() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    assertThat(fabric.aborts).containsExactly(fabric.sent.getFirst().handoffId());
    fabric.answer(new FabricMessage.Aborted(fabric.sent.getFirst().handoffId()));
    run();
    assertThat(done.join().outcome()).isEqualTo("stayed");
    assertThat(steps).containsSubsequence("cancel", "resume");
  }

  @Test
  void aLateAcceptanceAfterTheAbortMovesIt() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    fabric.answer(new FabricMessage.Accepted(fabric.sent.getFirst().handoffId()));
    run();
    assertThat(done.join().outcome()).isEqualTo("moved");
    assertThat(movable.closed).isTrue();
  }

  @Test
  void noAnswerEvenToTheAbortResetsThisCopyAndKeepsForwarding() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    assertThat(done.join().outcome()).isEqualTo("lost");
    assertThat(movable.reset).isTrue();
    assertThat(movable.resumed).as("the application is not resumed").isZero();
    assertThat(steps).doesNotContain("cancel"); // the target may own it: its packets still go there
  }

  @Test
  void anAnswerOnItsWayWhenTheDeadlineFiresIsNotTakenForALostSession() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    fabric.answer(
        new FabricMessage.Accepted(fabric.sent.getFirst().handoffId())); // its hop is queued
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    loopOwner.runScheduledPendingTasks(); // the deadline runs first
    assertThat(fabric.aborts).isEmpty();
    loopOwner.runPendingTasks();
    assertThat(done.join().outcome()).isEqualTo("moved");
  }

  @Test
  void aSessionLostAfterTheHandoffWasWrittenLeavesTheOutcomeUnknown() {
    var done = start();
    movable.point.setSuccess(SafePoint.EMPTY);
    run();
    fabric.abortWritable = false;
    loopOwner.advanceTimeBy(ANSWER.toMillis() + 1, TimeUnit.MILLISECONDS);
    run();
    assertThat(done).isNotDone();
    fabric.replies.getFirst().completeExceptionally(new HandoffException("lost", null, true));
    run();
    assertThat(done.join().outcome()).isEqualTo("lost");
    assertThat(movable.reset).isTrue();
  }

  @Test
  void aClosedConnectionDoesNotMove() {
    movable.open = false;
    var done = start();
    assertThat(done.join().outcome()).isEqualTo("stayed");
    assertThat(steps).isEmpty();
  }

  private static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private final class FakeMovable implements Movable {
    Promise<SafePoint> point;
    boolean open = true;
    boolean closed;
    boolean reset;
    boolean forced;
    int resumed;

    @Override
    public EventExecutor loop() {
      return loopOwner.eventLoop();
    }

    @Override
    public int fd() {
      return 99;
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public long bytesIn() {
      return 0;
    }

    @Override
    public long bytesOut() {
      return 0;
    }

    @Override
    public void suspend(Promise<SafePoint> point) {
      this.point = point;
    }

    @Override
    public void forceSuspend(Promise<SafePoint> point) {
      forced = true;
      this.point = point;
    }

    @Override
    public void resume() {
      resumed++;
    }

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public void reset() {
      reset = true;
    }
  }

  private final class FakeFabric implements MigrationPorts.Fabric {
    final List<FabricMessage.Handoff> sent = new ArrayList<>();
    final List<Long> aborts = new ArrayList<>();
    final List<CompletableFuture<HandoffReply>> replies = new ArrayList<>();
    HandoffException failNext;
    boolean abortWritable = true;
    long id = 100;

    @Override
    public long nextHandoffId() {
      return ++id;
    }

    @Override
    public CompletableFuture<HandoffReply> send(FabricMessage.Handoff handoff) {
      sent.add(handoff);
      if (failNext != null) return CompletableFuture.failedFuture(failNext);
      var f = new CompletableFuture<HandoffReply>();
      replies.add(f);
      return f;
    }

    @Override
    public boolean abort(long handoffId) {
      aborts.add(handoffId);
      return abortWritable;
    }

    void answer(HandoffReply reply) {
      replies.getFirst().complete(reply);
    }
  }

  private final class FakeForwarding implements MigrationPorts.Forwarding {
    @Override
    public CompletableFuture<?> forward(FlowKey f, Inet4Address server, long token) {
      steps.add("forward " + server.getHostAddress());
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<?> cancel(FlowKey f, long token) {
      steps.add("cancel");
      return CompletableFuture.completedFuture(null);
    }
  }

  private final class FakeSocket implements MigrationPorts.Socket {
    FakeSocket() {
      steps.add("freeze");
    }

    @Override
    public void held() {
      steps.add("held");
    }

    @Override
    public byte[] export(byte[] unread) {
      steps.add("export " + unread.length);
      return new byte[] {1, 2};
    }

    @Override
    public void prepareSilentClose() {
      steps.add("silent close");
    }

    @Override
    public void resume() {
      steps.add("resume");
    }
  }
}
