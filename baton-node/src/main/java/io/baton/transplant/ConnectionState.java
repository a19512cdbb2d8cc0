package io.baton.transplant;

import java.util.Arrays;
import java.util.Objects;

/**
 * Everything needed to continue a live TCP connection on another host: "the data structure of a
 * connection". Produced by {@link ConnectionExporter}, carried by {@link ConnectionStateCodec},
 * consumed by {@link ConnectionRestorer}. ESTABLISHED connections are represented, and CLOSE_WAIT
 * ones: the peer has sent its FIN (it still reads what this side sends), flagged by {@link
 * #finReceived}.
 *
 * <p>Sequence numbers are unsigned 32-bit values kept in Java ints. The send side: the socket's
 * {@code write_seq} is {@link #sendNextSeq}; the first byte of {@link #sendQueue} has sequence
 * {@code sendNextSeq - sendQueue.length}, which is {@code snd_una}; its last {@link
 * #sendQueueUnsent} bytes were never transmitted. The receive side: {@link #receiveNextSeq} is
 * {@code rcv_nxt}; {@link #receiveQueue} holds the bytes that end there (one sequence number
 * earlier when the peer's FIN was received: the FIN occupies one), of which the first {@link
 * #receiveQueueAlreadyRead} had been read by the exporting application (e.g. a dispatcher's peek at
 * the HTTP head) and the rest were still unread in the kernel.
 *
 * <p>Immutable in intent; the byte arrays are not copied, so callers must not modify them after
 * construction. Validation in the compact constructor guarantees that every instance is a state the
 * restorer can apply.
 *
 * @param flow client and local address/port
 * @param sendInitialSeq initial send sequence number (ISS), derived from TCP_INFO
 * @param sendNextSeq {@code write_seq}: sequence number after the last byte queued for sending
 * @param receiveInitialSeq the peer's initial sequence number (IRS), derived from TCP_INFO
 * @param receiveNextSeq {@code rcv_nxt}: next byte expected from the peer
 * @param window TCP_REPAIR_WINDOW values
 * @param mss maximum segment size (TCP_MAXSEG)
 * @param options negotiated options
 * @param timestampValue TCP_TIMESTAMP value, written back unchanged on restore
 * @param receiveQueue bytes received from the peer and not yet consumed by the new owner
 * @param receiveQueueAlreadyRead how many leading bytes of {@code receiveQueue} the exporter had
 *     read
 * @param sendQueue bytes queued for the peer and not yet acknowledged (unacked then unsent)
 * @param sendQueueUnsent how many trailing bytes of {@code sendQueue} were never sent
 * @param finReceived the peer's FIN was received (the socket was in CLOSE_WAIT): {@code
 *     receiveNextSeq} counts it, and the new owner must see end of stream after the queue
 */
public record ConnectionState(
    FlowKey flow,
    int sendInitialSeq,
    int sendNextSeq,
    int receiveInitialSeq,
    int receiveNextSeq,
    Window window,
    int mss,
    TcpOptions options,
    int timestampValue,
    byte[] receiveQueue,
    int receiveQueueAlreadyRead,
    byte[] sendQueue,
    int sendQueueUnsent,
    boolean finReceived) {

  /** The largest queue Baton moves (either direction); far above default socket buffers. */
  public static final int MAX_QUEUE_BYTES = 64 << 20;

  /**
   * Whether the previous owner had received bytes (or a FIN) it never acknowledged: its last
   * segment out advertised a window from before {@code rcv_nxt} ({@code rcv_wup} is {@code rcv_nxt}
   * as of the last segment sent). A dispatcher that delays its first ACK hands connections over so.
   */
  public boolean receivedUnacknowledged() {
    return window.rcvWup() != receiveNextSeq;
  }

  /** {@code struct tcp_repair_window}; u32 values kept in Java ints. */
  public record Window(int sndWl1, int sndWnd, int maxWindow, int rcvWnd, int rcvWup) {}

  /**
   * Options negotiated on the handshake.
   *
   * @param sndWscale shift applied to the peer's advertised window, 0..14
   * @param rcvWscale shift applied to this side's advertised window, 0..14
   */
  public record TcpOptions(
      boolean timestamps, boolean sack, boolean windowScaling, int sndWscale, int rcvWscale) {
    public TcpOptions {
      if (sndWscale < 0 || sndWscale > 14 || rcvWscale < 0 || rcvWscale > 14) {
        throw new IllegalArgumentException(
            "window scale must be 0..14, got snd=" + sndWscale + " rcv=" + rcvWscale);
      }
      if (!windowScaling && (sndWscale != 0 || rcvWscale != 0)) {
        throw new IllegalArgumentException("window scale values set but window scaling is off");
      }
    }
  }

  /** An ESTABLISHED connection: the peer's FIN has not been received. */
  public ConnectionState(
      FlowKey flow,
      int sendInitialSeq,
      int sendNextSeq,
      int receiveInitialSeq,
      int receiveNextSeq,
      Window window,
      int mss,
      TcpOptions options,
      int timestampValue,
      byte[] receiveQueue,
      int receiveQueueAlreadyRead,
      byte[] sendQueue,
      int sendQueueUnsent) {
    this(
        flow,
        sendInitialSeq,
        sendNextSeq,
        receiveInitialSeq,
        receiveNextSeq,
        window,
        mss,
        options,
        timestampValue,
        receiveQueue,
        receiveQueueAlreadyRead,
        sendQueue,
        sendQueueUnsent,
        false);
  }

  public ConnectionState {
    Objects.requireNonNull(flow, "flow");
    Objects.requireNonNull(window, "window");
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(receiveQueue, "receiveQueue");
    Objects.requireNonNull(sendQueue, "sendQueue");
    if (mss < 1 || mss > 65535) {
      throw new IllegalArgumentException("mss must be 1..65535, got " + mss);
    }
    if (receiveQueue.length > MAX_QUEUE_BYTES || sendQueue.length > MAX_QUEUE_BYTES) {
      throw new IllegalArgumentException(
          "queue larger than "
              + MAX_QUEUE_BYTES
              + " bytes: receive="
              + receiveQueue.length
              + " send="
              + sendQueue.length);
    }
    if (receiveQueueAlreadyRead < 0 || receiveQueueAlreadyRead > receiveQueue.length) {
      throw new IllegalArgumentException(
          "receiveQueueAlreadyRead "
              + receiveQueueAlreadyRead
              + " outside 0.."
              + receiveQueue.length);
    }
    if (sendQueueUnsent < 0 || sendQueueUnsent > sendQueue.length) {
      throw new IllegalArgumentException(
          "sendQueueUnsent " + sendQueueUnsent + " outside 0.." + sendQueue.length);
    }
  }

  /** {@code snd_una}: sequence number of the first byte of {@link #sendQueue}. */
  public int sendUnackedSeq() {
    return sendNextSeq - sendQueue.length;
  }

  /**
   * Sequence number just after the peer's last data byte: {@code rcv_nxt}, or the sequence number
   * of the peer's FIN when it was received (the FIN takes one sequence number but no byte).
   */
  public int receiveDataEndSeq() {
    return finReceived ? receiveNextSeq - 1 : receiveNextSeq;
  }

  /** Sequence number of the first byte of {@link #receiveQueue}. */
  public int receiveQueueStartSeq() {
    return receiveDataEndSeq() - receiveQueue.length;
  }

  /** Bytes in the send queue the peer has seen but not acknowledged. */
  public int sendQueueUnacked() {
    return sendQueue.length - sendQueueUnsent;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConnectionState s
        && flow.equals(s.flow)
        && sendInitialSeq == s.sendInitialSeq
        && sendNextSeq == s.sendNextSeq
        && receiveInitialSeq == s.receiveInitialSeq
        && receiveNextSeq == s.receiveNextSeq
        && window.equals(s.window)
        && mss == s.mss
        && options.equals(s.options)
        && timestampValue == s.timestampValue
        && Arrays.equals(receiveQueue, s.receiveQueue)
        && receiveQueueAlreadyRead == s.receiveQueueAlreadyRead
        && Arrays.equals(sendQueue, s.sendQueue)
        && sendQueueUnsent == s.sendQueueUnsent
        && finReceived == s.finReceived;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        flow,
        sendNextSeq,
        receiveNextSeq,
        Arrays.hashCode(receiveQueue),
        Arrays.hashCode(sendQueue));
  }

  @Override
  public String toString() {
    return "ConnectionState["
        + flow
        + " snd_nxt_write="
        + Integer.toUnsignedString(sendNextSeq)
        + " rcv_nxt="
        + Integer.toUnsignedString(receiveNextSeq)
        + " mss="
        + mss
        + " "
        + options
        + " rcvq="
        + receiveQueue.length
        + " (read "
        + receiveQueueAlreadyRead
        + ") sndq="
        + sendQueue.length
        + " (unsent "
        + sendQueueUnsent
        + ")"
        + (finReceived ? " fin" : "")
        + "]";
  }
}
