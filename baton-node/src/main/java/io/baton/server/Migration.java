package io.baton.server;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffException;
import io.baton.handoff.HandoffReply;
import io.baton.migration.SafePoint;
import io.baton.server.delivery.Movable;
import io.baton.transplant.FlowKey;
import io.baton.transplant.TransplantException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One live migration of a connection from this server to another, as an explicit state machine run
 * on the connection's event loop, with a deadline in every waiting state:
 *
 * <pre>
 * SUSPENDING (the application's safe point) → FORWARDING (this host forwards the client's packets
 * to the target and drops its own output) → OFFERED (HANDOFF/MIGRATE sent) → (ABORTING) →
 * MOVED | STAYED | LOST
 * </pre>
 *
 * The target restores the connection and tells every dispatcher over the sync plane, which switches
 * their forwarding entries; until then the client's packets still reach this host, whose own entry
 * sends them on to the target (docs/design.md, live migration). The rules of the dispatcher's
 * handoff hold: never two live owners; REFUSED, ABORTED, or a frame never completely written gives
 * the connection back to the application (STAYED); an answer that never comes, even to the ABORT,
 * leaves the outcome unknown (LOST): this copy is reset, so at most the target's lives.
 *
 * <p>Confined to the connection's event loop; callbacks of other threads hop onto it.
 */
final class Migration {
  private static final Logger log = LoggerFactory.getLogger(Migration.class);

  /** How long this host forwards a moved connection's packets: until every dispatcher switched. */
  static final Duration SWITCH_GRACE = Duration.ofSeconds(5);

  enum State {
    SUSPENDING,
    FORWARDING,
    OFFERED,
    ABORTING,
    MOVED,
    STAYED,
    LOST
  }

  private final LiveConnections.Live live;
  private final String target;
  private final Inet4Address targetFabric;
  private final MigrationPorts.Fabric client;
  private final MigrationPorts.Forwarding table;
  private final MigrationPorts.Freezer freezer;
  private final Duration safePointTimeout;
  private final Duration answerTimeout;
  private final LongSupplier clock;
  private final boolean force;
  private final CompletableFuture<MigrationOutcome> done = new CompletableFuture<>();
  private final Movable movable;
  private State state = State.SUSPENDING;
  private ScheduledFuture<?> deadline;
  private CompletableFuture<HandoffReply> answer;
  private MigrationPorts.Socket move;
  private long token;
  private long startNs;
  private long pointNs;

  /**
   * @param force the operator forces the move (see {@link Movable#forceSuspend})
   */
  Migration(
      LiveConnections.Live live,
      String target,
      Inet4Address targetFabric,
      MigrationPorts.Fabric client,
      MigrationPorts.Forwarding table,
      MigrationPorts.Freezer freezer,
      Duration safePointTimeout,
      Duration answerTimeout,
      LongSupplier clock,
      boolean force) {
    this.force = force;
    this.freezer = freezer;
    this.live = live;
    this.movable = live.movable();
    this.target = target;
    this.targetFabric = targetFabric;
    this.client = client;
    this.table = table;
    this.safePointTimeout = safePointTimeout;
    this.answerTimeout = answerTimeout;
    this.clock = clock;
  }

  /** Starts on the connection's loop; the future completes there. */
  CompletableFuture<MigrationOutcome> start() {
    movable.loop().execute(this::suspend);
    return done;
  }

  private void suspend() {
    startNs = clock.getAsLong();
    if (!movable.isOpen()) {
      finish(State.STAYED, "the connection closed before it could move");
      return;
    }
    Promise<SafePoint> point = movable.loop().newPromise();
    deadline =
        movable
            .loop()
            .schedule(
                () -> {
                  if (state == State.SUSPENDING
                      && point.tryFailure(
                          new IllegalStateException(
                              "no safe point within " + safePointTimeout.toMillis() + " ms"))) {
                    movable.resume();
                  }
                },
                safePointTimeout.toNanos(),
                TimeUnit.NANOSECONDS);
    point.addListener((Future<SafePoint> f) -> onPoint(f));
    if (force) movable.forceSuspend(point);
    else movable.suspend(point);
  }

  private void onPoint(Future<SafePoint> f) {
    if (state != State.SUSPENDING) return;
    deadline.cancel(false);
    if (!f.isSuccess()) {
      finish(State.STAYED, f.cause().getMessage());
      return;
    }
    pointNs = clock.getAsLong();
    SafePoint point = f.getNow();
    try {
      move = freezer.freeze(movable.fd(), live.flow());
    } catch (TransplantException e) {
      movable.resume();
      finish(State.STAYED, "cannot freeze the connection: " + e.getMessage());
      return;
    }
    token = client.nextHandoffId();
    state = State.FORWARDING;
    table
        .forward(live.flow(), targetFabric, token)
        .whenComplete((v, e) -> movable.loop().execute(() -> onForwarding(point, e)));
  }

  private void onForwarding(SafePoint point, Throwable failure) {
    if (failure != null) {
      resumeHere(
          "cannot forward the connection's packets to " + target + ": " + failure.getMessage());
      return;
    }
    byte[] wire;
    try {
      move.held();
      wire = move.export(point.unread());
    } catch (TransplantException | RuntimeException e) {
      takeBack("cannot export the connection: " + e.getMessage());
      return;
    }
    FlowKey flow = live.flow();
    var handoff =
        new FabricMessage.Handoff(
            token,
            wire,
            flow.localIp().getHostAddress() + ":" + flow.localPort(),
            "",
            FabricMessage.fit(
                "migrated from " + live.from(), FabricMessage.MAX_REQUEST_SUMMARY_BYTES),
            point.appState());
    state = State.OFFERED;
    deadline =
        movable.loop().schedule(this::overdue, answerTimeout.toNanos(), TimeUnit.NANOSECONDS);
    answer = client.send(handoff);
    answer.whenComplete((r, e) -> movable.loop().execute(() -> onAnswer(r, e)));
  }

  private void onAnswer(HandoffReply reply, Throwable failure) {
    if (state != State.OFFERED && state != State.ABORTING) return;
    deadline.cancel(false);
    if (reply instanceof FabricMessage.Accepted) {
      try {
        move.prepareSilentClose();
      } catch (TransplantException e) {
        log.warn(
            "{}: moved to {}, but its copy here is not silent: {}",
            live.flow(),
            target,
            e.getMessage());
      }
      movable.close();
      scheduleForget();
      finish(State.MOVED, "");
    } else if (reply instanceof FabricMessage.Refused r) {
      takeBack(target + " refused: " + r.reason());
    } else if (reply instanceof FabricMessage.Aborted) {
      takeBack(target + " did not take it in time");
    } else {
      Throwable cause =
          failure instanceof java.util.concurrent.CompletionException c ? c.getCause() : failure;
      if (cause instanceof HandoffException h && !h.maybeDelivered()) {
        takeBack(h.getMessage());
      } else if (state == State.OFFERED) {
        overdue();
      } else {
        lost(cause == null ? "no answer" : cause.getMessage());
      }
    }
  }

  private void overdue() {
    if (state != State.OFFERED) {
      if (state == State.ABORTING) lost("neither the handoff nor its abort was answered");
      return;
    }
    if (answer.isDone()) return; // the answer is on its way to this loop: onAnswer decides
    state = State.ABORTING;
    // When the ABORT cannot be written (the session is gone), the pending send fails as the
    // session closes; onAnswer then decides, or the deadline below does.
    client.abort(token);
    deadline =
        movable.loop().schedule(this::overdue, answerTimeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** The target does not have it: stop forwarding, then the connection carries on here. */
  private void takeBack(String why) {
    table
        .cancel(live.flow(), token)
        .whenComplete((v, e) -> movable.loop().execute(() -> resumeHere(why)));
  }

  private void resumeHere(String why) {
    try {
      move.resume();
    } catch (TransplantException | RuntimeException e) {
      log.warn(
          "{}: cannot resume after a failed move ({}); closing it", live.flow(), e.getMessage());
      movable.close();
      finish(State.LOST, why + "; then resume failed: " + e.getMessage());
      return;
    }
    movable.resume();
    finish(State.STAYED, why);
  }

  /** The target may own it: this copy goes with a reset, the forward stays for the grace. */
  private void lost(String why) {
    try {
      move.resume();
    } catch (TransplantException | RuntimeException e) {
      log.debug("{}: {}", live.flow(), e.toString());
    }
    movable.reset(); // never two live copies
    scheduleForget();
    finish(State.LOST, why);
  }

  private void scheduleForget() {
    FlowKey flow = live.flow();
    long t = token;
    movable
        .loop()
        .schedule(() -> table.cancel(flow, t), SWITCH_GRACE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void finish(State end, String detail) {
    state = end;
    long now = clock.getAsLong();
    long waited = ((pointNs == 0 ? now : pointNs) - startNs) / 1000;
    long moved = pointNs == 0 ? 0 : (now - pointNs) / 1000;
    if (end != State.MOVED)
      log.info("{}: not moved to {} ({}): {}", live.flow(), target, end, detail);
    done.complete(
        new MigrationOutcome(
            live.flow(),
            target,
            end.name().toLowerCase(java.util.Locale.ROOT),
            detail,
            waited,
            moved));
  }
}
