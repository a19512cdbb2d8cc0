package io.baton.gateway.wan;

import java.util.Objects;

/**
 * How a trunk's connections are tuned (the seed's "communication parameters"): how many parallel
 * connections, their congestion control, per-stream window, socket buffers, pacing cap and DSCP.
 * Both gateways apply them to their own sockets, so both directions are tuned. Immutable.
 *
 * @param connections parallel TCP connections the trunk stripes over, 1 to {@value
 *     #MAX_CONNECTIONS}
 * @param congestionControl a name from {@code net.ipv4.tcp_available_congestion_control}
 * @param windowBytes bytes of one stream the sender may have ahead of what the far end has written
 *     to its local socket: the bound on what a gateway buffers per stream
 * @param sendBufferBytes SO_SNDBUF of each connection; 0 leaves the kernel's autotuning on
 * @param receiveBufferBytes SO_RCVBUF of each connection; 0 leaves autotuning on
 * @param pacingBytesPerSecond SO_MAX_PACING_RATE of each connection; 0 for none
 * @param dscp the DSCP code point of the trunk's packets (0-63)
 */
public record WanParameters(
    int connections,
    String congestionControl,
    int windowBytes,
    int sendBufferBytes,
    int receiveBufferBytes,
    long pacingBytesPerSecond,
    int dscp) {
  public static final int MAX_CONNECTIONS = 64;
  public static final int DEFAULT_WINDOW_BYTES = 8 << 20;

  /** One connection, the host's congestion control (cubic), no tuning: plain split TCP. */
  public static final WanParameters PLAIN =
      new WanParameters(1, "cubic", DEFAULT_WINDOW_BYTES, 0, 0, 0, 0);

  public WanParameters {
    if (connections < 1 || connections > MAX_CONNECTIONS) {
      throw new IllegalArgumentException(
          "connections must be 1 to " + MAX_CONNECTIONS + ", got " + connections);
    }
    Objects.requireNonNull(congestionControl, "congestionControl");
    if (!congestionControl.matches("[a-z0-9_]{1,15}")) {
      throw new IllegalArgumentException(
          "congestion control '" + congestionControl + "' is not a kernel name");
    }
    if (windowBytes < 64 * 1024) {
      throw new IllegalArgumentException("window must be at least 64 KiB, got " + windowBytes);
    }
    if (sendBufferBytes < 0 || receiveBufferBytes < 0 || pacingBytesPerSecond < 0) {
      throw new IllegalArgumentException("buffers and pacing rate cannot be negative");
    }
    if (dscp < 0 || dscp > 63) throw new IllegalArgumentException("dscp must be 0-63, got " + dscp);
  }

  /** Each connection's share of the pacing cap, so that the trunk as a whole keeps to it. */
  public long pacingPerConnection() {
    return pacingBytesPerSecond == 0 ? 0 : Math.max(1, pacingBytesPerSecond / connections);
  }
}
