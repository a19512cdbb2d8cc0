package io.baton.dispatcher;

import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.TransplantException;

/**
 * Freezes and exports a socket ({@link ConnectionExporter} in production). Confined to the
 * thread that owns the socket.
 */
interface Transplanter {
  Frozen freeze(int fd) throws TransplantException;

  /** A frozen socket: export it, then either release it (moved) or resume it (stays here). */
  interface Frozen {
    /** The connection's state, encoded ({@code ConnectionStateCodec}) for the HANDOFF. */
    byte[] export(byte[] alreadyRead) throws TransplantException;

    /** The new owner has it: make the coming close silent (repair mode: no FIN, no RST). */
    void prepareSilentClose() throws TransplantException;

    /** The move is off: the connection continues here. */
    void resume() throws TransplantException;
  }

  /** The kernel's, through {@link ConnectionExporter}. */
  Transplanter KERNEL = fd -> {
    ConnectionExporter.Frozen f = ConnectionExporter.freeze(fd);
    return new Frozen() {
      @Override
      public byte[] export(byte[] alreadyRead) throws TransplantException {
        return ConnectionStateCodec.encode(f.export(alreadyRead));
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
