package io.baton.dispatcher;

import io.baton.transplant.FlowKey;
import io.baton.transplant.Move;
import io.baton.transplant.TransplantException;

/**
 * Freezes and exports a socket ({@link Move} in production). Confined to the thread that owns the
 * socket.
 */
interface Transplanter {
  /** Freezes {@code fd}, whose connection is {@code flow} (client = peer). */
  Frozen freeze(int fd, FlowKey flow) throws TransplantException;

  /**
   * A frozen socket: hold (the forwarding entry and output drop are in), export, then either
   * release it (moved) or resume it (stays here).
   */
  interface Frozen {
    /** The forwarding entry is in place: drop this copy's output from now on. */
    void held() throws TransplantException;

    /** The connection's state, encoded ({@code ConnectionStateCodec}) for the HANDOFF. */
    byte[] export(byte[] alreadyRead) throws TransplantException;

    /** The new owner has it: make the coming close silent (repair mode: no FIN, no RST). */
    void prepareSilentClose() throws TransplantException;

    /** The move is off: the connection continues here. */
    void resume() throws TransplantException;
  }

  /** The kernel's, through {@link Move} (the one copy of the handoff sequence). */
  Transplanter KERNEL =
      (fd, flow) -> {
        Move f = Move.start(fd, flow);
        return new Frozen() {
          @Override
          public void held() throws TransplantException {
            f.held();
          }

          @Override
          public byte[] export(byte[] alreadyRead) throws TransplantException {
            return f.export(alreadyRead);
          }

          @Override
          public void prepareSilentClose() throws TransplantException {
            f.prepareSilentClose();
          }

          @Override
          public void resume() throws TransplantException {
            f.resume();
          }
        };
      };
}
