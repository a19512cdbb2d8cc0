package io.baton.migration;

import java.util.Objects;

/**
 * User event fired through a moved connection's new pipeline on the target server, on {@code
 * channelActive}, before the first read and after any bytes the source never sent went out: the
 * {@link SafePoint#appState} the source's application gave. An application that carries state over
 * (a download in progress) continues from it; auto-read is on unless the handler turns it off.
 * Fired only when the state is not empty.
 */
public record MigratedIn(byte[] appState) {
  public MigratedIn {
    Objects.requireNonNull(appState, "appState");
  }
}
