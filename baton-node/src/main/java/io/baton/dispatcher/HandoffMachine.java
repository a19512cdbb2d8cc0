package io.baton.dispatcher;

import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffException;
import io.baton.handoff.HandoffReply;
import io.baton.log.RateLimitedLog;
import io.baton.routing.Member;
import io.baton.routing.PickContext;
import io.baton.routing.Pool;
import io.baton.transplant.TransplantException;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One routed connection's way to a server, as an explicit state machine (docs/design.md, "The
 * handoff sequence"). Every step runs on the thread that owns the connection ({@link
 * ClientSide#execute}); every waiting state has a deadline; callbacks of an earlier step are
 * ignored. Each run ends in exactly one terminal state:
 *
 * <ul>
 *   <li>{@link State#HANDED_OFF}: the server answered ACCEPTED (also after an ABORT: late); our
 *       copy is closed silently.
 *   <li>{@link State#SERVED_LOCALLY}: this node serves it (peer mode).
 *   <li>{@link State#UNAVAILABLE}: no server took it; we answered 503 (http) or closed.
 *   <li>{@link State#ABANDONED}: the server may own it but never said so (its fabric session died
 *       after the HANDOFF was written, or it answered neither the HANDOFF nor the ABORT). We reset
 *       the client and keep the forwarding entry: the server's CLOSED, next inventory or death
 *       settles the entry. Never two live owners, at the price of this connection in a double
 *       fault.
 *   <li>{@link State#CLIENT_GONE}: the client closed before we started.
 * </ul>
 *
 * A server that answers REFUSED or ABORTED, a HANDOFF that was never completely written, or a
 * failed forwarding change or export sends the machine through {@link State#TAKING_BACK} (cancel
 * the entry, resume the socket) to the next candidate. Confined to the owner thread.
 */
final class HandoffMachine {
  private static final Logger log = LoggerFactory.getLogger(HandoffMachine.class);
  // Per-connection INFO lines, bounded so that a flood of failing connections cannot flood the log.
  static final RateLimitedLog unavailableLog = new RateLimitedLog(log, "answering itself", 10);
  private static final RateLimitedLog refusedLog = new RateLimitedLog(log, "refused handoff", 10);
  private static final RateLimitedLog takeBackLog = new RateLimitedLog(log, "handoff not sent", 10);
  private static final RateLimitedLog abortLog = new RateLimitedLog(log, "abort sent", 10);

  enum State {
    PICKING,
    INSTALLING,
    OFFERED,
    ABORTING,
    TAKING_BACK,
    HANDED_OFF,
    SERVED_LOCALLY,
    UNAVAILABLE,
    ABANDONED,
    CLIENT_GONE;

    boolean terminal() {
      return ordinal() >= HANDED_OFF.ordinal();
    }
  }

  private final HandoffCoordinator.Context cx;
  private final ClientSide client;
  private final DispatcherStats.VipCounters vip;
  private final long handoffTimeoutNs;
  private final Pool pool;
  private final PickContext pick;
  private final String summary;
  private final Set<String> tried = new HashSet<>();

  private State state = State.PICKING;
  private int step; // bumped on every transition; stale callbacks compare it
  private Runnable deadline;
  private Member member;
  private long handoffId;
  private Transplanter.Frozen frozen;
  private long session; // the fabric session the HANDOFF must travel on
  private CompletableFuture<HandoffReply> offered;
  private long startNs;
  private long installedNs;
  private long sentNs;
  private String flowText;

  /**
   * @param handoffTimeoutNs how long the server may take to answer (the VIP's handoff timeout)
   */
  HandoffMachine(
      HandoffCoordinator.Context cx,
      ClientSide client,
      DispatcherStats.VipCounters vip,
      long handoffTimeoutNs,
      Pool pool,
      PickContext pick,
      String summary) {
    this.cx = cx;
    this.client = client;
    this.vip = vip;
    this.handoffTimeoutNs = handoffTimeoutNs;
    this.pool = pool;
    this.pick = pick;
    this.summary = summary;
  }

  State state() {
    return state;
  }

  void start() {
    cx.stats().inFlightHandoffs.increment();
    guarded(this::next);
  }

  /** Picks the next candidate and starts moving the connection to it. */
  private void next() {
    enter(State.PICKING);
    if (!client.isOpen()) {
      cx.stats().clientGone.increment();
      finish(State.CLIENT_GONE);
      return;
    }
    while (true) {
      Optional<Member> candidate = pool.pick(pick, tried);
      if (candidate.isEmpty()) {
        unavailable(
            tried.isEmpty()
                ? "pool " + pool.name() + " has no member to serve " + summary
                : "no server of pool "
                    + pool.name()
                    + " took the connection (tried "
                    + tried
                    + ")");
        return;
      }
      member = candidate.get();
      tried.add(member.node());
      String refusal = cx.eligibility().refusal(member.node());
      if (refusal != null) {
        cx.stats().skippedByFarmState.increment();
        log.debug("{}: skipping {}: {}", client.flow(), member.node(), refusal);
        continue;
      }
      if (member.local()) {
        if (client.serveLocally()) {
          cx.stats().servedLocally.increment();
          finish(State.SERVED_LOCALLY);
          return;
        }
        continue;
      }
      session = cx.fabric().session(member.node());
      if (session == FabricPort.NO_SESSION) {
        log.debug("{}: skipping {}: fabric connection is down", client.flow(), member.node());
        continue;
      }
      break;
    }
    startNs = cx.nanoClock().getAsLong();
    try {
      frozen = cx.transplanter().freeze(client.fd(), client.flow());
    } catch (TransplantException e) {
      // Nothing was changed (typically the connection is no longer movable): serve the answer here.
      cx.stats().freezeFailures.increment();
      unavailable(e.getMessage());
      return;
    }
    handoffId = cx.fabric().nextHandoffId(member.node());
    io.baton.log.ConnectionMdc.handoff(handoffId);
    enter(State.INSTALLING);
    var forwarded = cx.forwarding().forward(client.flow(), member.fabricAddress(), handoffId);
    if (forwarded.isDone() && !forwarded.isCompletedExceptionally()) {
      installed(null); // in the BPF flow map already: no commit to wait for
      return;
    }
    arm(cx.installTimeoutNs(), () -> takeBack("the forwarding table did not answer in time"));
    when(forwarded, (ok, error) -> installed(error));
  }

  private void installed(Throwable error) {
    if (error != null) {
      cx.stats().installFailures.increment();
      log.warn(
          "{}: cannot install forwarding to {}: {}", client.flow(), member.node(), message(error));
      takeBack("forwarding entry failed");
      return;
    }
    installedNs = cx.nanoClock().getAsLong();
    byte[] exported;
    try {
      frozen.held();
      exported = frozen.export(client.alreadyRead());
    } catch (TransplantException e) {
      cx.stats().exportFailures.increment();
      log.warn("{}: export failed: {}", client.flow(), e.getMessage());
      takeBack("export failed");
      return;
    }
    // The summary is bounded where it is made (RequestSummary).
    var handoff = new FabricMessage.Handoff(handoffId, exported, vip.name(), pool.name(), summary);
    sentNs = cx.nanoClock().getAsLong();
    enter(State.OFFERED);
    arm(handoffTimeoutNs, this::overdue);
    // On the session that was up when this server was picked: if it went down and came back
    // meanwhile, the entry installed for this handoff may be gone with the old session
    // (server lost, or judged by the new session's inventory), so the send fails unsent.
    offered = cx.fabric().send(member.node(), session, handoff);
    when(offered, this::answered);
  }

  /** No answer within the handoff timeout: ask the server to settle it. */
  private void overdue() {
    if (offered.isDone()) return; // the answer came in time; its task is queued behind this one
    // Continue the current step: the answer to the HANDOFF or the ABORT completes the same future.
    state = State.ABORTING;
    arm(
        cx.abortTimeoutNs(),
        () -> {
          cx.fabric()
              .forget(member.node(), handoffId, "no answer to the ABORT of handoff " + handoffId);
          abandon("no answer to handoff " + handoffId + " nor to its ABORT");
        });
    if (!cx.fabric().abort(member.node(), handoffId)) {
      // Not pending any more (answered this instant) or the session is gone (the future fails
      // with it): either way the future settles it, or the deadline above does.
      return;
    }
    cx.stats().aborts.increment();
    abortLog.info(
        "{}: {} did not answer handoff {} in time; sent ABORT",
        client.flow(),
        member.node(),
        handoffId);
  }

  private void answered(HandoffReply reply, Throwable error) {
    switch (reply) {
      case FabricMessage.Accepted a -> accepted();
      case FabricMessage.Refused r -> {
        cx.stats().refusedByServer.increment();
        refusedLog.info("{}: {} refused {}: {}", client.flow(), member.node(), summary, r.reason());
        takeBack(r.reason());
      }
      case FabricMessage.Aborted a -> {
        cx.stats().abortedByServer.increment();
        takeBack(member.node() + " confirmed the abort of handoff " + handoffId);
      }
      case null -> {
        cx.stats().handoffFailures.increment();
        if (error instanceof HandoffException he && !he.maybeDelivered()) {
          takeBackLog.info(
              "{}: handoff to {} not sent: {}", client.flow(), member.node(), he.getMessage());
          takeBack(he.getMessage());
        } else {
          abandon(message(error));
        }
      }
    }
  }

  private void accepted() {
    long now = cx.nanoClock().getAsLong();
    if (state == State.ABORTING) cx.stats().lateAccepted.increment();
    cx.stats().freezeAndForwardTime.record(installedNs - startNs);
    cx.stats().exportTime.record(sentNs - installedNs);
    cx.stats().fabricRoundTripTime.record(now - sentNs);
    cx.stats().handoffTime.record(now - startNs);
    cx.stats().handoffSeconds.observe((now - startNs) / 1e9);
    releaseOurCopy();
    cx.load().increment(member.node());
    cx.stats().handedOff.increment();
    vip.handedOff.increment();
    finish(State.HANDED_OFF);
  }

  /**
   * The server may own the connection, or may be dead with it; we must not serve it. Reset the
   * client so that it fails at once (a client waiting for its answer sends nothing that could draw
   * a reset otherwise): lift our output drop, resume our copy and close it with a RST. If the
   * server does own the connection, the client's side is gone too, and the server's copy meets the
   * client's RST through the entry, which stays until the server reports the close or dies.
   */
  private void abandon(String why) {
    cx.stats().abandoned.increment();
    log.warn(
        "{}: outcome of handoff {} to {} unknown ({}); resetting the client",
        client.flow(),
        handoffId,
        member.node(),
        why);
    finish(State.ABANDONED);
    try {
      frozen.resume(); // the frozen mark goes first, so the RST can leave
    } catch (TransplantException e) {
      log.warn("{}: {}", client.flow(), e.getMessage());
    }
    client.reset();
  }

  private void releaseOurCopy() {
    try {
      frozen.prepareSilentClose();
    } catch (TransplantException e) {
      log.warn("{}: {}", client.flow(), e.getMessage());
    }
    client.close(); // repair mode: no FIN, no RST; with the socket goes its frozen mark
  }

  /** The connection stays here: lift the entries first, then resume the socket, then go on. */
  private void takeBack(String why) {
    enter(State.TAKING_BACK);
    arm(
        cx.installTimeoutNs(),
        () -> resumeAndGoOn(why, "the forwarding table did not answer in time"));
    when(
        cx.forwarding().cancel(client.flow(), handoffId),
        (ok, error) -> resumeAndGoOn(why, error == null ? null : message(error)));
  }

  private void resumeAndGoOn(String why, String cancelProblem) {
    if (cancelProblem != null) {
      cx.stats().installFailures.increment();
      log.warn(
          "{}: cannot remove the forwarding entries of handoff {}: {}",
          client.flow(),
          handoffId,
          cancelProblem);
    }
    try {
      frozen.resume();
    } catch (TransplantException e) {
      cx.stats().resumeFailures.increment();
      log.warn("{}: cannot resume after {}: {}", client.flow(), why, e.getMessage());
      client.close();
      finish(State.UNAVAILABLE);
      return;
    }
    frozen = null;
    next();
  }

  private void unavailable(String why) {
    unavailableLog.info("{}: answering itself: {}", client.flow(), why);
    if (client.answerUnavailable()) {
      cx.stats().answered503.increment();
    } else {
      cx.stats().closedUnavailable.increment();
    }
    finish(State.UNAVAILABLE);
  }

  /** Ends the machine once: a second call (from the error path) changes nothing. */
  private void finish(State terminal) {
    if (state.terminal()) return;
    enter(terminal);
    cx.stats().inFlightHandoffs.decrement();
  }

  private void enter(State next) {
    state = next;
    step++;
    if (deadline != null) {
      deadline.run();
      deadline = null;
    }
  }

  private void arm(long delayNs, Runnable onDeadline) {
    int armedAt = step;
    deadline =
        client.schedule(
            () -> {
              if (step == armedAt && !state.terminal()) guarded(onDeadline);
            },
            delayNs);
  }

  /** Runs {@code then} on the owner thread when {@code f} completes, unless the step moved on. */
  private <T> void when(CompletableFuture<T> f, BiConsumer<T, Throwable> then) {
    int at = step;
    f.whenComplete(
        (value, error) ->
            client.execute(
                () -> {
                  if (step == at && !state.terminal()) guarded(() -> then.accept(value, error));
                }));
  }

  /**
   * Runs a step; a bug in it (an unchecked exception) must not orphan the connection: it ends the
   * machine in the least harmful terminal state for where it was.
   */
  private void guarded(Runnable stepBody) {
    // Every line a step logs names the connection and its handoff (JSON logs carry them as fields).
    if (flowText == null) flowText = client.flow().toString(); // once, not per step
    try (var _ = io.baton.log.ConnectionMdc.enter(flowText, handoffId)) {
      try {
        stepBody.run();
      } catch (RuntimeException e) {
        crashed(e);
      }
    }
  }

  private void crashed(RuntimeException e) {
    cx.stats().internalErrors.increment();
    log.error("{}: handoff step failed in state {}; ending it", client.flow(), state, e);
    if (state.terminal()) return;
    if (state == State.OFFERED || state == State.ABORTING) {
      // The server may have it: never serve it here.
      try {
        abandon("internal error: " + e);
      } catch (RuntimeException again) {
        log.error("{}: cannot abandon handoff {}", client.flow(), handoffId, again);
        finishQuietly();
      }
      return;
    }
    if (frozen != null) {
      try {
        cx.forwarding().cancel(client.flow(), handoffId);
        frozen.resume();
      } catch (TransplantException | RuntimeException again) {
        log.warn(
            "{}: cannot take the connection back after the error: {}",
            client.flow(),
            again.toString());
      }
    }
    finishQuietly();
  }

  /** Closes the client and ends the machine, whatever else fails. */
  private void finishQuietly() {
    try {
      client.close();
    } catch (RuntimeException ignored) {
      // nothing more to do for this connection
    }
    finish(State.UNAVAILABLE);
  }

  private static String message(Throwable error) {
    Throwable e = error;
    while (e instanceof java.util.concurrent.CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    return e.getMessage() != null ? e.getMessage() : e.toString();
  }
}
