package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.Splice;
import io.baton.linux.TcpInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One direction of a relay: moves bytes from a source socket to a destination socket through a pipe
 * with splice(2), so they never enter user space. Optional head bytes (the connection's unsent
 * tail) go to the destination before the first spliced byte. At end of stream of the source, once
 * the pipe is drained, the destination's write side is shut down: the half-close travels on.
 *
 * <p>Backpressure is the pipe: when it holds bytes the destination would not take, nothing more is
 * read from the source, so the source's kernel receive window closes and the sender waits.
 *
 * <p>{@link #pump} works until the descriptors would block, which suits edge-triggered epoll: a
 * pump left {@link Progress#WAITING} has seen {@code EAGAIN} on whichever side it waits for, so the
 * next edge on that side will come. Confined to one event-loop thread.
 */
final class SplicePump {
  /** What a call to {@link #pump} left behind. */
  enum Progress {
    /** Blocked on the source (pipe empty) or the destination (pipe not empty). */
    WAITING,
    /** Stopped after the byte budget; call again soon, nothing will wake it. */
    BUDGET_SPENT,
    /** End of stream forwarded; nothing more to do. */
    FINISHED
  }

  private static final int FLAGS = Splice.SPLICE_F_MOVE | Splice.SPLICE_F_NONBLOCK;

  /** A first peek's size: most heads fit; a longer one is peeked again whole. */
  private static final int SMALL_PEEK = 4096;

  /** Per event-loop thread: where heads are peeked to (native) and parsed from (heap). */
  private static final ThreadLocal<MemorySegment> PEEK_NATIVE =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(HttpFraming.MAX_HEAD_BYTES));

  private static final ThreadLocal<byte[]> PEEK_HEAP =
      ThreadLocal.withInitial(() -> new byte[HttpFraming.MAX_HEAD_BYTES]);

  private final int srcFd;
  private final int dstFd;
  private final Splice.Pipe pipe;
  private final int pipeCapacity;
  private final MemorySegment head;
  private long headSent;
  private long pipeBytes;
  private boolean srcEof;
  private boolean finished;
  private long bytesIn;
  private long bytesOut;
  private final HttpFraming framing;
  private boolean holdAtBoundary;
  private boolean stopTaking;

  /**
   * @param pipe the relay's, leased from its loop's {@link PipePool}; the sockets are the relay's
   *     too
   * @param headBytes written to {@code dstFd} before any spliced byte; may be empty
   */
  SplicePump(int srcFd, int dstFd, Splice.Pipe pipe, int pipeCapacity, byte[] headBytes) {
    this(srcFd, dstFd, pipe, pipeCapacity, headBytes, null);
  }

  /**
   * @param framing follows the HTTP messages of the source (so the pump can stop between two), or
   *     null to move bytes blindly
   */
  SplicePump(
      int srcFd,
      int dstFd,
      Splice.Pipe pipe,
      int pipeCapacity,
      byte[] headBytes,
      HttpFraming framing) {
    this.framing = framing;
    this.srcFd = srcFd;
    this.dstFd = dstFd;
    this.pipe = pipe;
    this.pipeCapacity = pipeCapacity;
    this.head =
        headBytes.length == 0
            ? MemorySegment.NULL
            : Arena.ofAuto().allocate(headBytes.length).copyFrom(MemorySegment.ofArray(headBytes));
  }

  /** Moves what can be moved now, up to about {@code budgetBytes}. */
  Progress pump(long budgetBytes) throws LinuxException {
    long moved = 0;
    while (!finished) {
      boolean progress = false;
      long allowed = srcEof || stopTaking ? 0 : pipeCapacity - pipeBytes;
      if (allowed > 0 && framing != null) allowed = Math.min(allowed, classified());
      if (allowed > 0) {
        long n = Splice.splice(srcFd, pipe.writeFd(), allowed, FLAGS);
        if (n == 0) {
          srcEof = true;
          progress = true;
        } else if (n > 0) {
          pipeBytes += n;
          bytesIn += n;
          progress = true;
        }
      }
      long out = headSent < head.byteSize() ? sendHead() : spliceOut();
      if (out > 0) {
        moved += out;
        progress = true;
      }
      if (srcEof && pipeBytes == 0 && headSent == head.byteSize()) {
        Sockets.shutdown(dstFd, Sockets.SHUT_WR);
        finished = true;
      } else if (!progress) {
        return Progress.WAITING;
      } else if (moved >= budgetBytes) {
        return Progress.BUDGET_SPENT;
      }
    }
    return Progress.FINISHED;
  }

  /**
   * How many source bytes the framing lets through now; peeks to classify more when none are. 0
   * means wait: for more bytes (the next edge brings them) or, holding, for a resume.
   */
  private long classified() throws LinuxException {
    if (framing.opaque()) return Long.MAX_VALUE;
    long ahead = framing.pos() - bytesIn;
    if (ahead > 0) return ahead;
    if (holdAtBoundary && framing.atBoundary()) return 0;
    int n = peekAndFeed(SMALL_PEEK);
    if (n == SMALL_PEEK && framing.pos() == bytesIn && !framing.opaque())
      n = peekAndFeed(HttpFraming.MAX_HEAD_BYTES);
    if (n == 0) return 1; // end of stream: let splice see it
    if (n > 0
        && framing.pos() == bytesIn
        && !framing.opaque()
        && TcpInfo.of(srcFd).state() != TcpInfo.STATE_ESTABLISHED) {
      // A message cut off by the sender's FIN: nothing more will come to complete it.
      framing.giveUp("the stream ended inside a message");
    }
    return framing.opaque() ? Long.MAX_VALUE : framing.pos() - bytesIn;
  }

  /**
   * Peeks up to {@code max} bytes at the source and lets the framing classify them; returns recv's
   * answer.
   */
  private int peekAndFeed(int max) throws LinuxException {
    MemorySegment buf = PEEK_NATIVE.get();
    int n = Sockets.recv(srcFd, buf.asSlice(0, max), Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
    if (n <= 0) return n;
    byte[] heap = PEEK_HEAP.get();
    MemorySegment.copy(buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, heap, 0, n);
    framing.feed(heap, n);
    return n;
  }

  /**
   * Holding, the pump takes no byte of the next message once at a boundary between two (a
   * migration's safe point); bytes already classified still go.
   */
  void holdAtBoundary(boolean hold) {
    this.holdAtBoundary = hold;
  }

  /**
   * Stopped, the pump takes nothing more from the source (a forced move); what it took still goes.
   */
  void stopTaking(boolean stop) {
    this.stopTaking = stop;
  }

  /** Everything taken from the source (and the head) handed to the destination. */
  boolean drained() {
    return pipeBytes == 0 && headSent == head.byteSize();
  }

  /** Whether the source is at a message boundary with everything before it delivered. */
  boolean drainedAtBoundary() {
    return framing != null
        && !framing.opaque()
        && framing.atBoundary()
        && framing.pos() == bytesIn
        && drained()
        && !srcEof;
  }

  /** Whether the source's end of stream has been seen. */
  boolean sourceEnded() {
    return srcEof;
  }

  HttpFraming framing() {
    return framing;
  }

  private long sendHead() throws LinuxException {
    int n =
        Sockets.send(dstFd, head.asSlice(headSent), Sockets.MSG_NOSIGNAL | Sockets.MSG_DONTWAIT);
    if (n <= 0) return 0;
    headSent += n;
    bytesOut += n;
    return n;
  }

  private long spliceOut() throws LinuxException {
    if (pipeBytes == 0) return 0;
    long n = Splice.splice(pipe.readFd(), dstFd, pipeBytes, FLAGS);
    if (n <= 0) return 0;
    pipeBytes -= n;
    bytesOut += n;
    return n;
  }

  boolean finished() {
    return finished;
  }

  /** Bytes taken from the source so far. */
  long bytesIn() {
    return bytesIn;
  }

  /** Bytes handed to the destination so far, head bytes included. */
  long bytesOut() {
    return bytesOut;
  }

  /**
   * Whether the pipe holds no byte: every splice into it and out of it is counted, so this is exact
   * whatever ended the connection.
   */
  boolean pipeEmpty() {
    return pipeBytes == 0;
  }
}
