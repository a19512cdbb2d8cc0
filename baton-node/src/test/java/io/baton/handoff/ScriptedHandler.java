package io.baton.handoff;

import io.baton.handoff.FabricMessage.Handoff;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/** A {@link HandoffServer.Handler} whose answer the test sets; records each call. Thread-safe. */
final class ScriptedHandler implements HandoffServer.Handler {
  record Call(Handoff handoff, String fromNode) {}

  final BlockingQueue<Call> calls = new LinkedBlockingQueue<>();
  private volatile Function<Handoff, CompletableFuture<HandoffReply>> script =
      h -> CompletableFuture.completedFuture(new FabricMessage.Accepted(h.handoffId()));

  void answer(Function<Handoff, CompletableFuture<HandoffReply>> script) {
    this.script = script;
  }

  /** Handoff ids this handler answered ACCEPTED, as a server's inventory would know them. */
  final java.util.Set<Long> taken = java.util.concurrent.ConcurrentHashMap.newKeySet();

  volatile java.util.List<FabricMessage.Owned> inventory = java.util.List.of();

  @Override
  public HandoffReply onAbort(long handoffId, String fromNode) {
    return taken.contains(handoffId)
        ? new FabricMessage.Accepted(handoffId)
        : new FabricMessage.Aborted(handoffId);
  }

  @Override
  public java.util.List<FabricMessage.Owned> inventory(String fromNode) {
    return inventory;
  }

  @Override
  public CompletableFuture<HandoffReply> onHandoff(Handoff handoff, String fromNode) {
    calls.add(new Call(handoff, fromNode));
    CompletableFuture<HandoffReply> reply = script.apply(handoff);
    if (reply == null) return null;
    return reply.thenApply(
        r -> {
          if (r instanceof FabricMessage.Accepted) taken.add(handoff.handoffId());
          return r;
        });
  }
}
