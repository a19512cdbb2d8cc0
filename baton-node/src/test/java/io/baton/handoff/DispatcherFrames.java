package io.baton.handoff;

import io.baton.handoff.FabricMessage.Hello;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.security.SecureRandom;

/**
 * The dispatcher's side of the protocol as plain bytes, for tests that play a dispatcher by hand
 * (to capture, replay, alter and reflect frames). Confined to the test thread.
 */
final class DispatcherFrames {
  private final FrameAuthenticator auth;
  private final byte[] nonce = new byte[FabricMessage.NONCE_BYTES];

  DispatcherFrames(byte[] key) {
    auth = new FrameAuthenticator(key, FrameAuthenticator.DISPATCHER);
    new SecureRandom().nextBytes(nonce);
  }

  /** Our HELLO frame; binds our nonce for the frames that follow. */
  byte[] hello(String nodeName) {
    byte[] frame = seal(new Hello(nodeName, nonce));
    auth.bindDispatcherNonce(nonce);
    return frame;
  }

  /** The complete frame (length field included) for {@code m}, with the next sequence number. */
  byte[] seal(FabricMessage m) {
    ByteBuf buf = auth.seal(UnpooledByteBufAllocator.DEFAULT, m);
    try {
      return ByteBufUtil.getBytes(buf);
    } finally {
      buf.release();
    }
  }

  /** Verifies and decodes a frame from the agent; binds the agent's nonce if it is its HELLO. */
  FabricMessage open(byte[] frame) throws Exception {
    ByteBuf body = Unpooled.wrappedBuffer(frame, 4, frame.length - 4);
    MessageType type = MessageType.ofCode(FabricFrame.typeCode(body));
    FabricMessage m = FabricMessageCodec.decode(type, auth.open(body));
    if (m instanceof Hello h) auth.bindAgentNonce(h.nonce());
    return m;
  }
}
