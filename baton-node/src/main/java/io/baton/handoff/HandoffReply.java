package io.baton.handoff;

/**
 * A server's answer to a {@link FabricMessage.Handoff}: {@link FabricMessage.Accepted} (the server
 * restored the connection and owns it now) or {@link FabricMessage.Refused} (the dispatcher still
 * owns it), or {@link FabricMessage.Aborted} after an ABORT (the server never restored it). No
 * answer at all — timeout, lost connection — is not a reply: the future that would carry it
 * completes exceptionally with a {@link HandoffException}.
 *
 * <p>Implementations are immutable records.
 */
public sealed interface HandoffReply
    permits FabricMessage.Accepted, FabricMessage.Refused, FabricMessage.Aborted {
  /** The handoff this reply answers. */
  long handoffId();
}
