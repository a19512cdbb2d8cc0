package io.baton.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The HANDOFF frame limit follows the head limit and the kernel's receive buffer. */
class FrameLimitTest {
  @Test
  void coversTheHeadTheUnreadBytesAndTheOverhead() {
    assertThat(HandoffServer.frameLimitFor(16_384, 6L << 20))
        .isEqualTo(64 * 1024 + 16_384 + (6 << 20));
    assertThat(HandoffServer.frameLimitFor(1 << 20, 32L << 20))
        .isEqualTo(64 * 1024 + (1 << 20) + (32 << 20));
  }

  @Test
  void staysWithinTheProtocolsBounds() {
    assertThat(HandoffServer.frameLimitFor(1024, 0)).isEqualTo(64 * 1024 + 1024);
    assertThat(HandoffServer.frameLimitFor(1 << 20, Long.MAX_VALUE / 2))
        .isEqualTo(HandoffServer.DEFAULT_MAX_FRAME_BYTES);
  }
}
