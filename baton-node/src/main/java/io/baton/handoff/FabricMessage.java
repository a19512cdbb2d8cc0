package io.baton.handoff;

import io.baton.transplant.FlowKey;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The messages of the handoff protocol, exchanged between a dispatcher ({@link HandoffClient}) and
 * a server agent ({@link HandoffServer}) over the fabric network. The wire form of each is
 * described in {@code FabricMessageCodec}.
 *
 * <p>Constructors check every field against the limits below and throw {@link
 * IllegalArgumentException} for a caller's mistake; the decoder checks the same limits on received
 * bytes and throws {@link FrameFormatException} instead. Records are immutable apart from their
 * byte arrays, which are not copied (a connection state may be 128 MiB): whoever builds a message
 * must not modify an array it passed in.
 */
public sealed interface FabricMessage {
  /** Length of a {@link Hello} nonce. */
  int NONCE_BYTES = 16;

  /** Limits on the UTF-8 length of string fields, so that a peer cannot make us buffer much. */
  int MAX_NODE_NAME_BYTES = 255;

  int MAX_VIP_BYTES = 64;
  int MAX_POOL_BYTES = 255;
  int MAX_REQUEST_SUMMARY_BYTES = 4096;
  int MAX_REASON_BYTES = 1024;

  /**
   * First message of each side on a new connection. The nonce is fresh random bytes; every later
   * frame's MAC covers both sides' nonces, which binds it to this session. {@code maxFrameBytes} is
   * the largest frame the sender accepts (0: not said): the other side does not send anything
   * bigger, so a HANDOFF that one host could carry but the other would refuse fails before it is
   * written (and is taken back) instead of closing the session as malformed.
   */
  record Hello(String nodeName, byte[] nonce, int maxFrameBytes) implements FabricMessage {
    public Hello {
      checkNodeName(nodeName);
      Objects.requireNonNull(nonce, "nonce");
      if (nonce.length != NONCE_BYTES) {
        throw new IllegalArgumentException(
            "nonce must be " + NONCE_BYTES + " bytes, got " + nonce.length);
      }
      checkNotNegative("maxFrameBytes", maxFrameBytes);
    }

    public Hello(String nodeName, byte[] nonce) {
      this(nodeName, nonce, 0);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Hello h
          && nodeName.equals(h.nodeName)
          && Arrays.equals(nonce, h.nonce)
          && maxFrameBytes == h.maxFrameBytes;
    }

    @Override
    public int hashCode() {
      return 31 * (31 * nodeName.hashCode() + Arrays.hashCode(nonce)) + maxFrameBytes;
    }

    @Override
    public String toString() {
      return "Hello["
          + nodeName
          + ", nonce="
          + HexFormat.of().formatHex(nonce)
          + ", maxFrameBytes="
          + maxFrameBytes
          + "]";
    }
  }

  /**
   * Largest application state a migration carries ({@link Handoff#appState}): what an application
   * may give.
   */
  int MAX_APP_STATE_BYTES = io.baton.migration.SafePoint.MAX_APP_STATE_BYTES;

  /**
   * Dispatcher → server, or server → server for a live migration: take over this connection. {@code
   * state} is a {@link io.baton.transplant.ConnectionStateCodec} encoding, opaque to this package;
   * {@code vip} is "ip:port"; {@code requestSummary} is for logs (e.g. "GET /x host=y") and may be
   * empty. {@code appState} is what an embedded application gave to carry on elsewhere (a
   * download's file and offset, say), empty for a dispatcher's handoff; a HANDOFF with application
   * state travels as MIGRATE. Handoff ids are chosen by the client, see {@link
   * HandoffClient#nextHandoffId()}.
   */
  record Handoff(
      long handoffId, byte[] state, String vip, String pool, String requestSummary, byte[] appState)
      implements FabricMessage {
    public Handoff {
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(appState, "appState");
      checkString("vip", vip, MAX_VIP_BYTES);
      checkString("pool", pool, MAX_POOL_BYTES);
      checkString("requestSummary", requestSummary, MAX_REQUEST_SUMMARY_BYTES);
      if (appState.length > MAX_APP_STATE_BYTES) {
        throw new IllegalArgumentException(
            "appState is " + appState.length + " bytes, more than " + MAX_APP_STATE_BYTES);
      }
    }

    /** A dispatcher's handoff: no application state. */
    public Handoff(long handoffId, byte[] state, String vip, String pool, String requestSummary) {
      this(handoffId, state, vip, pool, requestSummary, new byte[0]);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Handoff h
          && handoffId == h.handoffId
          && Arrays.equals(state, h.state)
          && vip.equals(h.vip)
          && pool.equals(h.pool)
          && requestSummary.equals(h.requestSummary)
          && Arrays.equals(appState, h.appState);
    }

    @Override
    public int hashCode() {
      return Objects.hash(
          handoffId, Arrays.hashCode(state), vip, pool, requestSummary, Arrays.hashCode(appState));
    }

    /** Names the handoff without dumping the state bytes. */
    @Override
    public String toString() {
      return "Handoff[id="
          + handoffId
          + ", vip="
          + vip
          + ", pool="
          + pool
          + ", state="
          + state.length
          + " bytes, request=\""
          + requestSummary
          + "\""
          + (appState.length > 0 ? ", appState=" + appState.length + " bytes" : "")
          + "]";
    }
  }

  /** Server → dispatcher: the connection is restored here; the dispatcher drops its copy. */
  record Accepted(long handoffId) implements FabricMessage, HandoffReply {}

  /** Server → dispatcher: not taken; the dispatcher still owns the connection. */
  record Refused(long handoffId, String reason) implements FabricMessage, HandoffReply {
    public Refused {
      checkString("reason", reason, MAX_REASON_BYTES);
    }
  }

  /**
   * Dispatcher → server: the dispatcher gave up waiting for the answer to {@code handoffId}. The
   * server answers with its decision (ACCEPTED or REFUSED, again if it already sent it) or, if it
   * never restored that connection, {@link Aborted}. Until that answer the dispatcher does not take
   * the connection back, so a connection is never live in two places.
   */
  record Abort(long handoffId) implements FabricMessage {}

  /** Server → dispatcher: it does not own the connection of {@code handoffId} and never will. */
  record Aborted(long handoffId) implements FabricMessage, HandoffReply {}

  /**
   * Both directions, every heartbeat period when nothing else was sent: a peer that hears nothing
   * for the dead-after time closes the session (a stopped process's kernel still ACKs TCP, so only
   * the application can tell that its peer stopped).
   */
  record Heartbeat() implements FabricMessage {}

  /** Maximum connections listed in one {@link Inventory} frame. */
  int MAX_INVENTORY_ENTRIES = 8192;

  /** One connection a server owns: its flow and the handoff that brought it. */
  record Owned(FlowKey flow, long handoffId) {
    public Owned {
      Objects.requireNonNull(flow, "flow");
    }
  }

  /**
   * Server → dispatcher, right after the session comes up: the connections that this dispatcher
   * handed to the server and that are still open, in frames of at most {@link
   * #MAX_INVENTORY_ENTRIES}; {@code last} marks the final frame. The dispatcher reconciles its
   * forwarding table with it (after a dispatcher restart, or a lost fabric connection).
   */
  record Inventory(java.util.List<Owned> owned, boolean last) implements FabricMessage {
    public Inventory {
      owned = java.util.List.copyOf(owned);
      if (owned.size() > MAX_INVENTORY_ENTRIES) {
        throw new IllegalArgumentException(
            "inventory frame lists "
                + owned.size()
                + " connections, more than "
                + MAX_INVENTORY_ENTRIES);
      }
    }
  }

  /**
   * Server → dispatchers: the connection that {@code handoffId} brought has ended; its forwarding
   * entry can go. A dispatcher ignores it unless that handoff still owns the entry.
   */
  record Closed(FlowKey flow, long handoffId, long bytesFromClient, long bytesToClient)
      implements FabricMessage {
    public Closed {
      Objects.requireNonNull(flow, "flow");
      checkNotNegative("bytesFromClient", bytesFromClient);
      checkNotNegative("bytesToClient", bytesToClient);
    }
  }

  /** Server → dispatchers: current load, sent periodically. */
  record LoadReport(String nodeName, int activeConnections, long acceptedTotal, long closedTotal)
      implements FabricMessage {
    public LoadReport {
      checkNodeName(nodeName);
      checkNotNegative("activeConnections", activeConnections);
      checkNotNegative("acceptedTotal", acceptedTotal);
      checkNotNegative("closedTotal", closedTotal);
    }
  }

  /**
   * {@code s} cut to at most {@code maxBytes} of UTF-8 without splitting a character (for text from
   * elsewhere, such as a request line, that must fit a field).
   */
  static String fit(String s, int maxBytes) {
    return FabricMessageCodec.fitUtf8(s, maxBytes);
  }

  private static void checkNodeName(String nodeName) {
    checkString("nodeName", nodeName, MAX_NODE_NAME_BYTES);
    if (nodeName.isEmpty()) throw new IllegalArgumentException("nodeName must not be empty");
  }

  private static void checkString(String field, String value, int maxBytes) {
    Objects.requireNonNull(value, field);
    // Cheap first test: a UTF-8 encoding is at most 3 bytes per UTF-16 unit.
    if (value.length() * 3L > maxBytes
        && value.getBytes(StandardCharsets.UTF_8).length > maxBytes) {
      throw new IllegalArgumentException(field + " is longer than " + maxBytes + " bytes of UTF-8");
    }
  }

  private static void checkNotNegative(String field, long value) {
    if (value < 0) throw new IllegalArgumentException(field + " must not be negative: " + value);
  }
}
