package io.baton.gateway.wan;

import io.netty.buffer.ByteBuf;
import java.net.InetSocketAddress;

/**
 * The frames of the trunk protocol. Every stream frame but {@link Reset} and {@link Credit} carries
 * the stream's frame sequence number, because consecutive frames of one stream may travel over
 * different connections of the trunk and must be put back in order.
 *
 * <p>Wire format (big-endian): {@code type u8, stream u32, seq u32, length u32, body[length]}.
 */
public sealed interface TrunkFrame {
  /** Largest body accepted; larger frames mean a corrupt or hostile peer. */
  int MAX_BODY_BYTES = 64 * 1024;

  /** Bytes before the body. */
  int HEADER_BYTES = 13;

  /** Stream id of connection-level frames. */
  int NO_STREAM = 0;

  /**
   * First frame on every connection of a trunk, from the dialing gateway: which trunk, which of its
   * {@code params.connections()} connections this is, and the parameters both ends tune their
   * sockets with; sealed with the tunnel key ({@link TrunkHello}).
   */
  record Hello(byte[] trunkId, int index, WanParameters params, long issuedAtMs, byte[] seal)
      implements TrunkFrame {}

  /** A new stream: the client's original destination and its own address, for the far side. */
  record Open(int stream, int seq, InetSocketAddress destination, InetSocketAddress client)
      implements TrunkFrame {}

  /** Bytes of a stream, in order by {@code seq}. The receiver releases {@code payload}. */
  record Data(int stream, int seq, ByteBuf payload) implements TrunkFrame {}

  /** The sender will send no more bytes on this stream (its reader saw FIN). */
  record Fin(int stream, int seq) implements TrunkFrame {}

  /** Abort the stream at once (its local connection was reset or failed), with why. */
  record Reset(int stream, String reason) implements TrunkFrame {}

  /** The receiver has written {@code consumedBytes} of this stream to its local socket so far. */
  record Credit(int stream, long consumedBytes) implements TrunkFrame {}

  /** Liveness, both ways, every {@link Trunk#PING_INTERVAL_MS}. */
  record Ping(long sentAtMs) implements TrunkFrame {}

  /** The frame's stream, or {@link #NO_STREAM}. */
  default int stream() {
    return switch (this) {
      case Open o -> o.stream();
      case Data d -> d.stream();
      case Fin f -> f.stream();
      case Reset r -> r.stream();
      case Credit c -> c.stream();
      case Hello h -> NO_STREAM;
      case Ping p -> NO_STREAM;
    };
  }
}
