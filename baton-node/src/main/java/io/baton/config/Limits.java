package io.baton.config;

/**
 * Bounds on what one node accepts. Immutable.
 *
 * @param maxHeadBytes largest request head (or ClientHello) the dispatcher reads,
 *     {@value #MIN_HEAD_BYTES}..{@value #MAX_HEAD_BYTES}; larger http heads get 431
 * @param maxConnections open client connections per node, 1..{@value #MAX_CONNECTIONS}; beyond it
 *     new connections are refused
 */
public record Limits(int maxHeadBytes, int maxConnections) {
  public static final int MIN_HEAD_BYTES = 1024;
  public static final int MAX_HEAD_BYTES = 1_048_576;
  public static final int MAX_CONNECTIONS = 10_000_000;

  /** 16 KiB heads, 10000 connections. */
  public static final Limits DEFAULTS = new Limits(16_384, 10_000);

  public Limits {
    if (maxHeadBytes < MIN_HEAD_BYTES || maxHeadBytes > MAX_HEAD_BYTES) {
      throw new IllegalArgumentException("maxHeadBytes out of range: " + maxHeadBytes);
    }
    if (maxConnections < 1 || maxConnections > MAX_CONNECTIONS) {
      throw new IllegalArgumentException("maxConnections out of range: " + maxConnections);
    }
  }
}
