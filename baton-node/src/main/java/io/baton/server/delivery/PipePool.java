package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Splice;
import java.util.ArrayDeque;

/**
 * One event loop's spare pipes for its relays: a relay's two pipes (one per direction) come from
 * here and go back when the connection ended with both of them drained, so that a relayed
 * connection does not cost two {@code pipe2}, two {@code F_SETPIPE_SZ} and four {@code close}
 * calls. A pipe that may still hold bytes (the connection was cut) is closed, never reused.
 *
 * <p>An empty pipe holds no pages, only its descriptors: the pool keeps at most {@code max}.
 * Confined to its event loop.
 */
final class PipePool {
  /** Asked-for pipe size; the kernel may give less to unprivileged processes. */
  static final int PIPE_BYTES = 256 * 1024;

  /** A pipe and the capacity the kernel gave it. */
  record Lease(Splice.Pipe pipe, int capacity) {}

  private final ArrayDeque<Lease> free = new ArrayDeque<>();
  private final int max;
  private boolean closed;

  PipePool(int max) {
    this.max = max;
  }

  /** A spare pipe, or a new one. */
  Lease take() throws LinuxException {
    Lease l = free.pollLast();
    return l != null ? l : create();
  }

  /** Back for the next relay if {@code empty} and there is room; closed otherwise. */
  void giveBack(Lease lease, boolean empty) {
    if (empty && !closed && free.size() < max) {
      free.addLast(lease);
    } else {
      lease.pipe().close();
    }
  }

  /** Closes the spare pipes; later ones given back are closed too (the loop is shutting down). */
  void close() {
    closed = true;
    for (Lease l; (l = free.pollLast()) != null; ) l.pipe().close();
  }

  /** Pipes held now (for tests). */
  int spare() {
    return free.size();
  }

  private static Lease create() throws LinuxException {
    Splice.Pipe pipe = Splice.pipe();
    int capacity;
    try {
      capacity = Splice.setPipeCapacity(pipe.writeFd(), PIPE_BYTES);
    } catch (LinuxException e) {
      try {
        capacity = Splice.pipeCapacity(pipe.writeFd()); // above pipe-max-size: keep the default
      } catch (LinuxException again) {
        pipe.close();
        throw again;
      }
    }
    return new Lease(pipe, capacity);
  }
}
