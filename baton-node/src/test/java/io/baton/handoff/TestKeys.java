package io.baton.handoff;

import java.nio.charset.StandardCharsets;

/** Cluster keys for tests. */
final class TestKeys {
  static final byte[] KEY =
      "baton-test-cluster-key-0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  static final byte[] WRONG_KEY =
      "baton-test-cluster-key-0123456789abcdeX".getBytes(StandardCharsets.US_ASCII);

  private TestKeys() {}
}
