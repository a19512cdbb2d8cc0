package io.baton.handoff;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals outbound frames and verifies inbound ones for one connection: the HMAC-SHA256 tag under the
 * cluster key, bound to the direction and to both HELLO nonces, and the per-direction sequence
 * numbers (see {@link FabricFrame} for what the tag covers).
 *
 * <p>The session binds each nonce into the MAC context at the point both sides agree on: the
 * dispatcher's nonce right after the dispatcher's HELLO (sent or received), the agent's nonce right
 * after the agent's HELLO. So the dispatcher's HELLO is sealed with no nonces, the agent's HELLO
 * with the dispatcher's nonce only (which proves to the dispatcher that the agent holds the key
 * now, not in some recorded session), and every later frame with both.
 *
 * <p>One instance per connection, confined to its event loop ({@link Mac} is not thread-safe and
 * the sequence numbers must follow wire order).
 */
final class FrameAuthenticator {
  static final byte DISPATCHER = 1;
  static final byte AGENT = 2;
  private static final String ALGORITHM = "HmacSHA256";

  /** Verification failed: bad tag or unexpected sequence number. */
  static final class FailedException extends Exception {
    private static final long serialVersionUID = 1L;

    FailedException(String message) {
      super(message);
    }
  }

  private final Mac mac;
  private final byte localRole;
  private final byte peerRole;
  private final byte[] dispatcherNonce = new byte[FabricMessage.NONCE_BYTES];
  private final byte[] agentNonce = new byte[FabricMessage.NONCE_BYTES];
  private long sendSequence;
  private long receiveSequence;

  /** {@code key} is the cluster key (checked by the endpoints); {@code localRole} is ours. */
  FrameAuthenticator(byte[] key, byte localRole) {
    this.localRole = localRole;
    this.peerRole = localRole == DISPATCHER ? AGENT : DISPATCHER;
    try {
      mac = Mac.getInstance(ALGORITHM);
      mac.init(new SecretKeySpec(key, ALGORITHM));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot compute " + ALGORITHM, e);
    }
  }

  void bindDispatcherNonce(byte[] nonce) {
    System.arraycopy(nonce, 0, dispatcherNonce, 0, dispatcherNonce.length);
  }

  void bindAgentNonce(byte[] nonce) {
    System.arraycopy(nonce, 0, agentNonce, 0, agentNonce.length);
  }

  /**
   * The complete frame for {@code m} (length field included) with the next sequence number, in a
   * new buffer the caller owns.
   */
  ByteBuf seal(ByteBufAllocator alloc, FabricMessage m) {
    long payloadLength = FabricMessageCodec.payloadLength(m);
    long bodyLength = FabricFrame.bodyLength(payloadLength);
    if (bodyLength > Integer.MAX_VALUE - FabricFrame.LENGTH_FIELD_BYTES) {
      throw new IllegalArgumentException(m + " is too large for a frame");
    }
    ByteBuf out = alloc.buffer(FabricFrame.LENGTH_FIELD_BYTES + (int) bodyLength);
    try {
      out.writeInt((int) bodyLength);
      int bodyAt = out.writerIndex();
      out.writeShort(FabricFrame.MAGIC);
      out.writeByte(FabricFrame.VERSION);
      out.writeByte(MessageType.of(m).code);
      out.writeLong(sendSequence);
      FabricMessageCodec.encode(m, out);
      out.writeBytes(tag(localRole, out, bodyAt, out.writerIndex() - bodyAt));
      sendSequence++;
      return out;
    } catch (RuntimeException e) {
      out.release();
      throw e;
    }
  }

  /**
   * Verifies a frame body (from the magic to the end of the tag, as {@link FrameDecoder} emits it)
   * and returns its payload as a slice of {@code body}.
   */
  ByteBuf open(ByteBuf body) throws FailedException {
    int at = body.readerIndex();
    int tagAt = body.writerIndex() - FabricFrame.TAG_BYTES;
    byte[] expected = tag(peerRole, body, at, tagAt - at);
    byte[] actual = new byte[FabricFrame.TAG_BYTES];
    body.getBytes(tagAt, actual);
    if (!MessageDigest.isEqual(expected, actual)) {
      throw new FailedException(
          "bad MAC (wrong cluster key, altered in transit, or not from this session)");
    }
    long sequence = body.getLong(at + FabricFrame.SEQUENCE_AT);
    if (sequence != receiveSequence) {
      throw new FailedException(
          "sequence number "
              + sequence
              + ", expected "
              + receiveSequence
              + " (replayed or reordered)");
    }
    receiveSequence++;
    return body.slice(at + FabricFrame.HEADER_BYTES, tagAt - at - FabricFrame.HEADER_BYTES);
  }

  private byte[] tag(byte role, ByteBuf buf, int index, int length) {
    mac.update(role);
    mac.update(dispatcherNonce);
    mac.update(agentNonce);
    for (ByteBuffer part : buf.nioBuffers(index, length)) mac.update(part);
    return mac.doFinal();
  }
}
