package io.baton.migration;

import java.util.Objects;

/**
 * Where an application stopped for a migration.
 *
 * @param appState what the target's application needs to carry on (a download's file and offset,
 *     say); empty when it starts afresh. At most {@link #MAX_APP_STATE_BYTES}.
 * @param unread bytes the application already took from the socket but has not consumed (the start
 *     of a request its decoder holds); the move puts them back in front of the receive queue, so
 *     the target reads them first
 */
public record SafePoint(byte[] appState, byte[] unread) {
  /** Largest application state a migration carries (the fabric's MIGRATE frame allows no more). */
  public static final int MAX_APP_STATE_BYTES = 64 * 1024;

  public static final SafePoint EMPTY = new SafePoint(new byte[0], new byte[0]);

  public SafePoint {
    Objects.requireNonNull(appState, "appState");
    Objects.requireNonNull(unread, "unread");
    if (appState.length > MAX_APP_STATE_BYTES) {
      throw new IllegalArgumentException(
          "application state of " + appState.length + " bytes, more than " + MAX_APP_STATE_BYTES);
    }
  }
}
