package io.baton.handoff;

import io.baton.handoff.FabricMessage.Handoff;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * A {@link HandoffServer.Handler} whose answer the test sets; records each call. Thread-safe.
 */
final class ScriptedHandler implements HandoffServer.Handler {
  record Call(Handoff handoff, String fromNode) {}

  final BlockingQueue<Call> calls = new LinkedBlockingQueue<>();
  private volatile Function<Handoff, CompletableFuture<HandoffReply>> script =
      h -> CompletableFuture.completedFuture(new FabricMessage.Accepted(h.handoffId()));

  void answer(Function<Handoff, CompletableFuture<HandoffReply>> script) {
    this.script = script;
  }

  @Override
  public CompletableFuture<HandoffReply> onHandoff(Handoff handoff, String fromNode) {
    calls.add(new Call(handoff, fromNode));
    return script.apply(handoff);
  }
}
