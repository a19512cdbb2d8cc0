package io.baton.handoff;

/**
 * The type byte of a fabric frame, and which side may send each type. Codes are part of the wire
 * format: never renumber, only add.
 */
enum MessageType {
  HELLO(1, true, true),
  HANDOFF(2, true, false),
  ACCEPTED(3, false, true),
  REFUSED(4, false, true),
  CLOSED(5, false, true),
  LOAD_REPORT(6, false, true),
  ABORT(7, true, false),
  ABORTED(8, false, true),
  HEARTBEAT(9, true, true),
  INVENTORY(10, false, true),
  /** A HANDOFF with application state (a live migration from another server). */
  MIGRATE(11, true, false);

  private static final MessageType[] BY_CODE = new MessageType[12];

  static {
    for (MessageType t : values()) BY_CODE[t.code] = t;
  }

  final int code;
  private final boolean fromDispatcher;
  private final boolean fromAgent;

  MessageType(int code, boolean fromDispatcher, boolean fromAgent) {
    this.code = code;
    this.fromDispatcher = fromDispatcher;
    this.fromAgent = fromAgent;
  }

  /** The type with this code (an unsigned byte). */
  static MessageType ofCode(int code) throws FrameFormatException {
    MessageType t = code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    if (t == null) throw new FrameFormatException("unknown message type " + code);
    return t;
  }

  static MessageType of(FabricMessage m) {
    return switch (m) {
      case FabricMessage.Hello _ -> HELLO;
      case FabricMessage.Handoff h -> h.appState().length > 0 ? MIGRATE : HANDOFF;
      case FabricMessage.Accepted _ -> ACCEPTED;
      case FabricMessage.Refused _ -> REFUSED;
      case FabricMessage.Closed _ -> CLOSED;
      case FabricMessage.LoadReport _ -> LOAD_REPORT;
      case FabricMessage.Abort _ -> ABORT;
      case FabricMessage.Aborted _ -> ABORTED;
      case FabricMessage.Heartbeat _ -> HEARTBEAT;
      case FabricMessage.Inventory _ -> INVENTORY;
    };
  }

  /** Whether a dispatcher ({@code true}) or a server agent ({@code false}) may send this type. */
  boolean mayBeSentBy(boolean dispatcher) {
    return dispatcher ? fromDispatcher : fromAgent;
  }
}
