package io.baton.transplant;

/**
 * One handoff of a connection from this host, in the one order docs/design.md ("The handoff
 * sequence") prescribes, each step checking that the step before it happened:
 *
 * <ol>
 *   <li>{@link #start}: freeze the socket (drop filter: this kernel ignores the client from now
 *       on);
 *   <li>the caller's data plane forwards the client's packets to the new owner and drops this
 *       host's output on the flow, then the caller says {@link #held};
 *   <li>{@link #export}: the state, encoded. Only after the hold: a frozen socket's timers may
 *       still send never-sent bytes, and a client that acknowledges them deadlocks the new owner;
 *   <li>the new owner restores it; then {@link #release} (or {@link #prepareSilentClose} when
 *       another object closes the descriptor): this copy goes without FIN or RST, and the caller
 *       lifts its output drop.
 * </ol>
 *
 * Or, when the move is off, the caller removes its entries and then {@link #resume}s: the
 * connection continues here. The dispatcher's handoff state machine, the transplant demo and the
 * lab fixtures all move connections through this class.
 *
 * <p>Confined to the thread that owns the socket.
 */
public final class Move {
  /** Where a move is. */
  public enum Step {
    FROZEN,
    HELD,
    EXPORTED,
    RELEASED,
    RESUMED
  }

  private final ConnectionExporter.Frozen frozen;
  private final FlowKey flow;
  private Step step = Step.FROZEN;

  private Move(ConnectionExporter.Frozen frozen, FlowKey flow) {
    this.frozen = frozen;
    this.flow = flow;
  }

  /** Freezes {@code fd}; throws, leaving it unchanged, when its connection cannot be moved. */
  public static Move start(int fd) throws TransplantException {
    ConnectionExporter.Frozen frozen = ConnectionExporter.freeze(fd);
    return new Move(frozen, frozen.flow());
  }

  /**
   * As {@link #start(int)}, for a caller that knows the socket's addresses (a Netty channel read
   * them at accept): {@code flow} must be the socket's own.
   */
  public static Move start(int fd, FlowKey flow) throws TransplantException {
    return new Move(ConnectionExporter.freeze(fd, flow), flow);
  }

  public FlowKey flow() {
    return flow;
  }

  public Step step() {
    return step;
  }

  /**
   * The caller's data plane forwards the client's packets away: this copy's output is dropped from
   * now on (the socket's frozen mark, {@link ConnectionExporter#FROZEN_MARK}, which the
   * dispatcher's forwarding table drops; or the caller's own drop, e.g. a {@code frozen} set
   * element).
   */
  public void held() throws TransplantException {
    expect(Step.FROZEN, "held");
    frozen.dropOutput();
    step = Step.HELD;
  }

  /** The connection's state, encoded for the new owner ({@link ConnectionStateCodec}). */
  public byte[] export(byte[] alreadyRead) throws TransplantException {
    if (step == Step.FROZEN) {
      throw new IllegalStateException(
          "export of "
              + flow
              + " before its hold: forward the client's packets"
              + " and drop this host's output on the flow first (docs/design.md, the handoff sequence)");
    }
    expect(Step.HELD, "export");
    byte[] wire = ConnectionStateCodec.encode(frozen.export(alreadyRead));
    step = Step.EXPORTED;
    return wire;
  }

  /** The new owner has it: close this copy silently. */
  public void release() throws TransplantException {
    expect(Step.EXPORTED, "release");
    step = Step.RELEASED;
    frozen.release();
  }

  /** Like {@link #release}, when another object (a Netty channel) closes the descriptor. */
  public void prepareSilentClose() throws TransplantException {
    expect(Step.EXPORTED, "prepareSilentClose");
    step = Step.RELEASED;
    frozen.prepareSilentClose();
  }

  /** The move is off (the caller has removed its entries): the connection continues here. */
  public void resume() throws TransplantException {
    if (step == Step.RELEASED || step == Step.RESUMED) {
      throw new IllegalStateException("resume of " + flow + " after " + step);
    }
    step = Step.RESUMED;
    frozen.resume();
  }

  private void expect(Step wanted, String what) {
    if (step != wanted)
      throw new IllegalStateException(
          what + " of " + flow + " in step " + step + ", needs " + wanted);
  }

  @Override
  public String toString() {
    return "Move[" + flow + ", " + step + "]";
  }
}
