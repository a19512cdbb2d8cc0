package io.baton.server;

import io.baton.transplant.FlowKey;

/**
 * Tells when the kernel is done with a connection its application closed. A close(2) hands the
 * socket to the kernel, which goes on sending what the application wrote, for as long as the client
 * takes to acknowledge it, and then waits for the client's FIN: until then the client's packets,
 * which reach a dispatcher, must still be forwarded here. Reporting the close at the application's
 * close made the dispatchers stop forwarding after their close grace, and their own stack reset a
 * slow client in the middle of an answer it had been sent in full.
 */
interface KernelRelease extends AutoCloseable {
  /** Runs each report at once (tests of pure logic; no kernel to ask). */
  KernelRelease IMMEDIATE = (flow, report) -> report.run();

  /**
   * Runs {@code report} once the kernel is done with {@code flow} (the server's socket is gone, in
   * TIME_WAIT or closed), or has stopped making progress with it. Any thread; must not block.
   */
  void afterRelease(FlowKey flow, Runnable report);

  /** Closes whose report waits for the kernel now. Any thread. */
  default int waiting() {
    return 0;
  }

  @Override
  default void close() {}
}
