package io.baton.handoff;

import io.netty.buffer.ByteBuf;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The frame that carries every fabric message. Integers big-endian.
 *
 * <pre>
 *  offset size field
 *       0    4 length N of everything after this field (header + payload + tag), unsigned
 *       4    2 magic 0xBA70
 *       6    1 version (1)
 *       7    1 message type ({@link MessageType})
 *       8    8 sequence number: 0 for HELLO, then +1 per frame in each direction
 *      16    - payload ({@link FabricMessageCodec})
 *    4+N-32 32 HMAC-SHA256 tag
 * </pre>
 *
 * <p>The tag is computed under the cluster key over {@code direction || dispatcherNonce ||
 * agentNonce || bytes 4 .. 4+N-32}, where direction is the sender's role (1 dispatcher, 2 server
 * agent) and the nonces are those of the two HELLOs — all zero in the dispatcher's HELLO, and the
 * agent's nonce zero in the agent's HELLO (see {@link FrameAuthenticator}). A frame from another
 * session, the other direction, or with any bit changed therefore fails verification, and the
 * sequence check refuses a replay or reordering within the session.
 *
 * <p>Constants and stateless helpers only.
 */
final class FabricFrame {
  static final int MAGIC = 0xBA70;
  static final int VERSION = 1;
  static final int LENGTH_FIELD_BYTES = 4;

  /** Magic, version, type and sequence number. */
  static final int HEADER_BYTES = 2 + 1 + 1 + 8;

  static final int TAG_BYTES = 32;

  /** The smallest valid value of the length field: a frame with an empty payload. */
  static final int MIN_BODY_BYTES = HEADER_BYTES + TAG_BYTES;

  /** Limit on the length field before the HELLO exchange: a HELLO fits easily. */
  static final int MAX_HELLO_BODY_BYTES = 512;

  /** Offsets within the body (after the length field). */
  static final int TYPE_AT = 3;

  static final int SEQUENCE_AT = 4;

  private FabricFrame() {}

  /** The value of the length field for a frame with this payload length. */
  static long bodyLength(long payloadLength) {
    return HEADER_BYTES + payloadLength + TAG_BYTES;
  }

  /** The unsigned type byte of a body that starts at {@code body}'s reader index. */
  static int typeCode(ByteBuf body) {
    return body.getUnsignedByte(body.readerIndex() + TYPE_AT);
  }

  /** "ip:port" for logs and messages, without the "/" or host name of toString(). */
  static String text(SocketAddress address) {
    if (address instanceof InetSocketAddress a) {
      String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
      return host + ":" + a.getPort();
    }
    return String.valueOf(address);
  }
}
