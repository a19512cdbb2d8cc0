package io.baton.handoff;

import java.util.Arrays;
import java.util.Objects;

/**
 * What both endpoints are configured with, checked once: the cluster key, this node's name and the
 * frame size limit. Immutable (the key is a private copy, never exposed outside the package).
 */
record EndpointSettings(byte[] key, String nodeName, int maxFrameBytes) {
  /** Shortest cluster key accepted: the HMAC-SHA256 output size. */
  static final int MIN_KEY_BYTES = 32;

  /** Smallest frame limit that still leaves room for every non-HANDOFF message. */
  static final int MIN_FRAME_BYTES = 16 * 1024;

  EndpointSettings {
    Objects.requireNonNull(key, "key");
    if (key.length < MIN_KEY_BYTES) {
      throw new IllegalArgumentException(
          "cluster key must be at least " + MIN_KEY_BYTES + " bytes, got " + key.length);
    }
    key = key.clone();
    // The HELLO constructor applies the node name rules (1..255 bytes of UTF-8).
    new FabricMessage.Hello(nodeName, new byte[FabricMessage.NONCE_BYTES]);
    if (maxFrameBytes < MIN_FRAME_BYTES) {
      throw new IllegalArgumentException(
          "maxFrameBytes must be at least " + MIN_FRAME_BYTES + ", got " + maxFrameBytes);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EndpointSettings s
        && Arrays.equals(key, s.key)
        && nodeName.equals(s.nodeName)
        && maxFrameBytes == s.maxFrameBytes;
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(key), nodeName, maxFrameBytes);
  }

  /** Never prints the key. */
  @Override
  public String toString() {
    return "EndpointSettings[node=" + nodeName + ", maxFrameBytes=" + maxFrameBytes + "]";
  }
}
