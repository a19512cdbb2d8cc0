package io.baton.routing;

import java.util.Locale;

/**
 * What a {@link ConsistentHashBalancer} hashes, so that the same key keeps reaching the same
 * member. When a connection lacks the key (no Host in HTTP/1.0, no SNI, a layer-4 VIP) the client's
 * address is used instead.
 */
public enum HashKey {
  /** The client's IP address: one client sticks to one member. */
  CLIENT_IP,
  /** The request's host (or SNI name): one site per member, good for caches. */
  HOST,
  /** The request's path: one resource per member, good for caches. */
  PATH;

  /** The name used in configuration files: {@code client-ip}, {@code host}, {@code path}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Parses a {@link #configName()}; the message lists the valid names. */
  public static HashKey fromConfig(String text) {
    for (HashKey key : values()) {
      if (key.configName().equals(text)) return key;
    }
    throw new IllegalArgumentException(
        "unknown hash key '" + text + "': use client-ip, host or path");
  }
}
