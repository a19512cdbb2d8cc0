package io.baton.server;

import io.baton.transplant.FlowKey;

/**
 * Hears of each connection the agent takes and loses, beyond the dispatcher that handed it over:
 * the sync plane tells every dispatcher, so that any of them forwards the client's packets. Called
 * on event loops: must not block.
 */
public interface OwnershipListener {
  OwnershipListener NONE =
      new OwnershipListener() {
        @Override
        public void opened(FlowKey flow, long handoffId) {}

        @Override
        public void closed(FlowKey flow, long handoffId) {}
      };

  /** The agent restored {@code flow}, brought by handoff {@code handoffId}. */
  void opened(FlowKey flow, long handoffId);

  /** {@code flow} of that handoff closed. */
  void closed(FlowKey flow, long handoffId);
}
