package io.baton.server.delivery;

import io.baton.linux.LinuxException;
import io.baton.linux.RawTcp;
import io.baton.linux.TcpInfo;
import io.baton.linux.TcpRepair;
import io.baton.linux.TcpSegment;
import io.baton.log.RateLimitedLog;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The acknowledgement a restored socket owes its client. A dispatcher that delays its first ACK
 * (the VIP's {@code delay-first-ack}, on by default) hands the connection over with the client's
 * request unacknowledged: normally the server's answer, or the window update the kernel sends as
 * the request is read, acknowledges it, and the dispatcher node sends one packet fewer. An answer
 * that takes long would leave the client to retransmit its request (its tail-loss probe, ~200 ms on
 * Linux), so a delivery whose socket has sent nothing {@link #DELAY} after the restore sends the
 * ACK itself, as the kernel's delayed ACK would have. No socket option makes the kernel send an ACK
 * it does not know it owes (and a repair-mode window probe carries a sequence number before {@code
 * snd_una}, which the client discards, ACK and all), so the ACK is the one the restore built from
 * the state ({@link io.baton.transplant.ConnectionRestorer#owedAck}), with the socket's clock as
 * TSval, sent through a raw socket as the restore's re-created FIN is. The socket never learns of
 * it, which costs nothing: its next segment acknowledges as much or more.
 *
 * <p>Call on the thread that owns the descriptor, while it is open (a closed descriptor's number
 * may name another socket by then). Thread-safe otherwise: the counter is shared.
 */
final class OwedAck {
  private static final Logger log = LoggerFactory.getLogger(OwedAck.class);
  private static final RateLimitedLog failures = new RateLimitedLog(log, "owed ACKs not sent", 5);

  /** The kernel's own delayed-ACK timeout (TCP_DELACK_MIN), well inside a client's ~200 ms. */
  static final Duration DELAY = Duration.ofMillis(40);

  static final long DELAY_NS = DELAY.toNanos();

  private final LongAdder sent = new LongAdder();

  /**
   * Sends {@code ack} (the connection's {@link ConnectionInfo#owedAck}) if the socket {@code fd}
   * has not sent a single segment since its restore (an answer, a window update as the request was
   * read, or the kernel's own ACK of later bytes would have carried it).
   *
   * @return whether this sent the acknowledgement
   */
  boolean sendIfSilent(int fd, TcpSegment ack, Object connection) {
    try {
      if (TcpInfo.of(fd).segsOut() != 0) return false;
      if (ack.timestamp() != null) {
        ack =
            new TcpSegment(
                ack.source(),
                ack.destination(),
                ack.seq(),
                ack.ack(),
                ack.flags(),
                ack.window(),
                new TcpSegment.Timestamp(TcpRepair.timestamp(fd), 0));
      }
      RawTcp.send(ack);
      sent.increment();
      return true;
    } catch (LinuxException e) {
      failures.warn("{}: cannot send the ACK its client is owed: {}", connection, e.getMessage());
      return false;
    }
  }

  /** Acknowledgements sent so far. */
  long sent() {
    return sent.sum();
  }
}
