package io.baton.dispatcher;

import io.baton.transplant.FlowKey;

/**
 * The client connection that a {@link HandoffMachine} moves, and the thread that owns it: the
 * machine runs every step through {@link #execute} and {@link #schedule}, so all of them run on
 * that one thread. In production a Netty channel and its event loop ({@link ChannelClientSide}); in
 * unit tests a fake with a manual clock.
 */
interface ClientSide {
  FlowKey flow();

  /** The kernel socket of the connection. */
  int fd();

  boolean isOpen();

  /** Every byte of the connection this node has read so far (they travel in the receive queue). */
  byte[] alreadyRead();

  /** Runs {@code task} on the owner thread, after the current task. */
  void execute(Runnable task);

  /** Runs {@code task} on the owner thread after {@code delayNs}; returns how to cancel it. */
  Runnable schedule(Runnable task, long delayNs);

  /** Serves the connection on this node (peer mode); false if this node cannot serve it. */
  boolean serveLocally();

  /** Closes the socket; after a silent release (repair mode) nothing reaches the client. */
  void close();

  /** Closes the (resumed) socket with a RST: the client fails at once instead of waiting. */
  void reset();

  /**
   * The connection stays here and nobody serves it: a 503 in http mode (returns true), else a close
   * (false).
   */
  boolean answerUnavailable();
}
