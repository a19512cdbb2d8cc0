package io.baton.dispatcher;

import io.baton.log.RateLimitedLog;
import io.baton.routing.ClientHelloParser;
import io.baton.routing.HttpHeadParser;
import io.baton.routing.PickContext;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the first request of a new client connection (HTTP head, TLS ClientHello, or nothing in L4
 * mode) within the VIP's size and time limits, routes it, and passes the connection to the {@link
 * HandoffCoordinator}. Every byte read is kept: it travels to the server in the moved receive
 * queue. Malformed heads get 400, oversized heads or too many header fields 431, slow clients 408
 * or a close.
 *
 * <p>The first-request phase is bounded in three ways, so that slow or silent clients cannot hold
 * the dispatcher: the {@link AdmissionControl} caps how many connections are in it (in total and
 * per client IP; over a cap the connection is closed at accept), and both timers run from accept —
 * the first byte must come within {@code first-byte}, the whole head within {@code head}, however
 * the client spreads its bytes (slowloris). The admission is released exactly once when the phase
 * ends, whatever ends it: handoff started, answered, closed by either side, timed out, or an error.
 *
 * <p>The logic only: the socket's reads, timers and answers are its {@link Connection}'s ({@link
 * AcceptedConnection} in production, a fake in unit tests). One instance per connection; confined
 * to the connection's event loop.
 */
final class FirstRequest {
  private static final Logger log = LoggerFactory.getLogger(FirstRequest.class);

  /** Refusals at accept come in floods: one line per refused connection would be a second flood. */
  private static final RateLimitedLog refusalLog = new RateLimitedLog(log, "admission refusals", 5);

  /** What the phase does to its connection. Every method runs on the connection's event loop. */
  interface Connection {
    InetAddress clientIp();

    /** The client's address and port, for the log. */
    String describe();

    /** Reads no more: the connection's fate is decided (later bytes stay in the kernel). */
    void stopReading();

    /** Runs {@code task} on the owner thread after {@code delayNs}; returns how to cancel it. */
    Runnable schedule(Runnable task, long delayNs);

    /** Answers {@code status} (HTTP) and closes politely (see {@link Responses}). */
    void answer(int status, String reason, String detail);

    /** Closes politely without an answer (see {@link Responses#lingerClose}). */
    void lingerClose();

    /** Closes at once. */
    void close();

    /** The connection, with {@code read} (every byte read so far), as a handoff moves it. */
    ClientSide toClient(byte[] read);
  }

  /** What every connection of one VIP shares. */
  record Shared(
      VipSite site,
      HandoffCoordinator coordinator,
      DispatcherStats stats,
      AdmissionControl admission,
      int maxHeaderCount) {}

  private final Shared shared;
  private final VipSite site;
  private final DispatcherStats stats;
  private final Connection conn;
  private AdmissionControl.Ticket ticket;
  private HttpHeadParser http;
  private ClientHelloParser tls;
  private byte[] consumed;
  private int consumedLength;

  /** One timer per connection: the first-byte deadline, then (rescheduled) the head's. */
  private Runnable cancelTimer;

  private boolean decided;
  private boolean gotFirstByte;

  FirstRequest(Shared shared, Connection conn) {
    this.shared = shared;
    this.site = shared.site();
    this.stats = shared.stats();
    this.conn = conn;
  }

  /**
   * The connection was accepted: admits it (or refuses it), starts the timers, or hands it off at
   * once in L4 mode. Returns whether the connection should now be read.
   */
  boolean opened() {
    stats.accepted.increment();
    stats.forVip(site.vip()).accepted.increment();
    ticket = shared.admission().tryAdmit(conn.clientIp());
    if (!ticket.admitted()) {
      refuse();
      return false;
    }
    stats.firstRequestPhase.increment();
    if (site.mode() == Mode.L4) {
      decided = true;
      handOff(new byte[0], site.router().routeL4(), PickContext.of(conn.clientIp()), "l4");
      return false;
    }
    consumed = new byte[1024];
    if (site.mode() == Mode.HTTP) {
      http = new HttpHeadParser(site.maxHeadBytes(), shared.maxHeaderCount());
    } else {
      tls = new ClientHelloParser(site.maxHeadBytes());
    }
    // Both deadlines run from accept: a client that sends one byte early and then trickles the
    // rest must not get a fresh head timeout from its first byte. One timer serves both (one
    // schedule and one cancel per connection instead of two each).
    long firstByteNs = site.firstByteTimeout().toNanos();
    long headNs = site.headTimeout().toNanos();
    cancelTimer =
        conn.schedule(() -> firstByteDeadline(firstByteNs, headNs), Math.min(firstByteNs, headNs));
    return true;
  }

  /** Over a cap: close at once, before reading anything, and count why. */
  private void refuse() {
    decided = true;
    boolean total = ticket.outcome() == AdmissionControl.Outcome.REFUSED_TOTAL;
    (total ? stats.refusedPendingTotal : stats.refusedPendingPerClient).increment();
    refusalLog.info(
        "{}: closed at accept: {}",
        conn.describe(),
        total
            ? "the dispatcher's connections in the first-request phase are at their cap"
            : "this client's connections in the first-request phase are at their cap");
    conn.close();
  }

  /** {@code len} bytes the client sent, at {@code buf[off]}. */
  void onBytes(byte[] buf, int off, int len) {
    if (decided) return;
    gotFirstByte = true;
    if (consumedLength + len > consumed.length) {
      consumed = Arrays.copyOf(consumed, Math.max(consumed.length * 2, consumedLength + len));
    }
    System.arraycopy(buf, off, consumed, consumedLength, len);
    consumedLength += len;
    ByteBuffer in = ByteBuffer.wrap(buf, off, len);
    if (http != null) {
      onHttp(http.offer(in));
    } else {
      onTls(tls.offer(in));
    }
  }

  /**
   * The client's FIN before its request was complete: nothing more will come, but the client may
   * still read an answer, so the timers decide (408 or a close), as for a client that went quiet.
   */
  void onEndOfInput() {
    conn.stopReading();
  }

  /** Reading failed (the client reset the connection, most often): the phase ends, quietly. */
  void onError(Exception e) {
    log.debug("{}: {}", conn.describe(), e.toString());
    if (!decided) stats.clientGone.increment();
    decided = true;
    endPhase();
    conn.close();
  }

  private void onHttp(HttpHeadParser.Result result) {
    switch (result) {
      case HttpHeadParser.NeedMore n -> {}
      case HttpHeadParser.Complete c -> {
        var head = c.head();
        decide();
        handOff(
            bytes(),
            site.router().route(head),
            PickContext.of(conn.clientIp(), head),
            RequestSummary.http(head.method(), head.target(), head.host()));
      }
      case HttpHeadParser.Malformed m -> {
        decide();
        stats.answered400.increment();
        log.debug("{}: malformed request head: {}", conn.describe(), m.reason());
        conn.answer(400, "Bad Request", m.reason());
      }
      case HttpHeadParser.TooLarge t -> {
        decide();
        stats.answered431.increment();
        conn.answer(
            431,
            "Request Header Fields Too Large",
            "the request head exceeds " + t.limit() + " bytes");
      }
      case HttpHeadParser.TooManyFields t -> {
        decide();
        stats.answered431.increment();
        stats.answered431HeaderCount.increment();
        conn.answer(
            431,
            "Request Header Fields Too Large",
            "the request head has more than " + t.limit() + " header fields");
      }
    }
  }

  private void onTls(ClientHelloParser.Result result) {
    switch (result) {
      case ClientHelloParser.NeedMore n -> {}
      case ClientHelloParser.Complete c -> {
        decide();
        handOff(
            bytes(),
            site.router().routeTls(c.sni()),
            PickContext.ofTls(conn.clientIp(), c.sni()),
            RequestSummary.tls(c.sni()));
      }
      case ClientHelloParser.NotTls n -> {
        decide();
        stats.closedNotTls.increment();
        log.debug("{}: not a TLS ClientHello: {}", conn.describe(), n.reason());
        conn.lingerClose();
      }
      case ClientHelloParser.TooLarge t -> {
        decide();
        stats.closedNotTls.increment();
        conn.lingerClose();
      }
    }
  }

  private void handOff(byte[] bytes, Optional<String> pool, PickContext pick, String summary) {
    // Counted as a handoff from before its first-request phase ends until its machine counts it:
    // a stopping dispatcher that saw neither would close the fabric under it.
    stats.inFlightHandoffs.increment();
    try {
      endPhase();
      stats.bytesReadBeforeHandoff.add(bytes.length);
      shared.coordinator().handOff(conn.toClient(bytes), site, pool, pick, summary);
    } finally {
      stats.inFlightHandoffs.decrement();
    }
  }

  /** Stops reading and timing: the connection's fate is decided, its first-request phase ends. */
  private void decide() {
    decided = true;
    conn.stopReading();
    endPhase();
  }

  /** Cancels the timer and releases the admission; safe to call more than once. */
  private void endPhase() {
    if (cancelTimer != null) {
      cancelTimer.run();
      cancelTimer = null;
    }
    if (ticket != null && ticket.admitted()) {
      ticket.release();
      ticket = null;
      stats.firstRequestPhase.decrement();
    }
  }

  private byte[] bytes() {
    return Arrays.copyOf(consumed, consumedLength);
  }

  /**
   * At the first-byte deadline (or the head's, if that comes first): time out, or wait for the
   * head's.
   */
  private void firstByteDeadline(long firstByteNs, long headNs) {
    if (decided) return;
    if (!gotFirstByte || headNs <= firstByteNs) {
      timedOut();
    } else {
      cancelTimer = conn.schedule(this::timedOut, headNs - firstByteNs);
    }
  }

  private void timedOut() {
    if (decided) return;
    decide();
    if (gotFirstByte && site.mode() == Mode.HTTP) {
      stats.answered408.increment();
      conn.answer(
          408,
          "Request Timeout",
          "the request head was not complete within " + site.headTimeout().toMillis() + " ms");
    } else {
      stats.closedSlow.increment();
      conn.close();
    }
  }

  /** The connection closed under the phase (the event loop shut down, or a fault). */
  void onClosed() {
    if (!decided) {
      stats.clientGone.increment();
      decided = true;
    }
    endPhase();
  }
}
