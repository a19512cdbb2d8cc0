package io.baton.config;

/**
 * Bounds on what one node accepts. Immutable.
 *
 * @param maxHeadBytes largest request head (or ClientHello) the dispatcher reads, {@value
 *     #MIN_HEAD_BYTES}..{@value #MAX_HEAD_BYTES}; larger http heads get 431
 * @param maxConnections open client connections per node, 1..{@value #MAX_CONNECTIONS}; beyond it
 *     new connections are refused
 * @param maxPendingConnections connections a dispatcher holds in the first-request phase (accepted,
 *     not yet handed off or answered), 1..{@value #MAX_PENDING_CONNECTIONS}; beyond it new
 *     connections are closed at once
 * @param maxPendingPerClient the same per client IP address, 1..{@code maxPendingConnections}
 * @param maxHeaderCount header fields in a request head, 1..{@value #MAX_HEADER_COUNT}; more get
 *     431
 */
public record Limits(
    int maxHeadBytes,
    int maxConnections,
    int maxPendingConnections,
    int maxPendingPerClient,
    int maxHeaderCount) {
  public static final int MIN_HEAD_BYTES = 1024;
  public static final int MAX_HEAD_BYTES = 1_048_576;
  public static final int MAX_CONNECTIONS = 10_000_000;
  public static final int MAX_PENDING_CONNECTIONS = 1_000_000;
  public static final int MAX_HEADER_COUNT = 10_000;

  /**
   * 16 KiB heads, 10000 connections, 10000 connections in the first-request phase and 64 per client
   * IP, 100 header fields (Apache httpd's LimitRequestFields default).
   */
  public static final Limits DEFAULTS = new Limits(16_384, 10_000, 10_000, 64, 100);

  public Limits {
    if (maxHeadBytes < MIN_HEAD_BYTES || maxHeadBytes > MAX_HEAD_BYTES) {
      throw new IllegalArgumentException("maxHeadBytes out of range: " + maxHeadBytes);
    }
    if (maxConnections < 1 || maxConnections > MAX_CONNECTIONS) {
      throw new IllegalArgumentException("maxConnections out of range: " + maxConnections);
    }
    if (maxPendingConnections < 1 || maxPendingConnections > MAX_PENDING_CONNECTIONS) {
      throw new IllegalArgumentException(
          "maxPendingConnections out of range: " + maxPendingConnections);
    }
    if (maxPendingPerClient < 1 || maxPendingPerClient > maxPendingConnections) {
      throw new IllegalArgumentException(
          "maxPendingPerClient out of range 1.."
              + maxPendingConnections
              + ": "
              + maxPendingPerClient);
    }
    if (maxHeaderCount < 1 || maxHeaderCount > MAX_HEADER_COUNT) {
      throw new IllegalArgumentException("maxHeaderCount out of range: " + maxHeaderCount);
    }
  }
}
