package io.baton.server;

import io.baton.dataplane.ForwardingService;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.handoff.HandoffReply;
import io.baton.transplant.FlowKey;
import io.baton.transplant.Move;
import io.baton.transplant.TransplantException;
import java.net.Inet4Address;
import java.util.concurrent.CompletableFuture;

/**
 * What a {@link Migration} drives besides the connection itself, as seams a unit test fakes: the
 * fabric session to the target, this host's forwarding table, and the socket's own steps.
 */
final class MigrationPorts {
  private MigrationPorts() {}

  /** The fabric session to the target server ({@link HandoffClient}). */
  interface Fabric {
    long nextHandoffId();

    /** Completes with the target's answer, or fails ({@link io.baton.handoff.HandoffException}). */
    CompletableFuture<HandoffReply> send(FabricMessage.Handoff handoff);

    /** Asks for the answer to an overdue handoff; false when the ABORT could not be written. */
    boolean abort(long handoffId);

    static Fabric of(HandoffClient client) {
      return new Fabric() {
        @Override
        public long nextHandoffId() {
          return client.nextHandoffId();
        }

        @Override
        public CompletableFuture<HandoffReply> send(FabricMessage.Handoff handoff) {
          return client.send(handoff);
        }

        @Override
        public boolean abort(long handoffId) {
          return client.abort(handoffId);
        }
      };
    }
  }

  /** This host's forwarding of a moved connection's packets ({@link ForwardingService}). */
  interface Forwarding {
    CompletableFuture<?> forward(FlowKey flow, Inet4Address server, long token);

    CompletableFuture<?> cancel(FlowKey flow, long token);

    static Forwarding of(ForwardingService table) {
      return new Forwarding() {
        @Override
        public CompletableFuture<?> forward(FlowKey flow, Inet4Address server, long token) {
          return table.forward(flow, server, token);
        }

        @Override
        public CompletableFuture<?> cancel(FlowKey flow, long token) {
          return table.cancel(flow, token);
        }
      };
    }
  }

  /** The socket's steps, in {@link Move}'s order. */
  interface Socket {
    void held() throws TransplantException;

    byte[] export(byte[] unread) throws TransplantException;

    void prepareSilentClose() throws TransplantException;

    void resume() throws TransplantException;
  }

  /** Freezes a connection's socket ({@link Move#start(int, FlowKey)}). */
  interface Freezer {
    Socket freeze(int fd, FlowKey flow) throws TransplantException;

    Freezer MOVE =
        (fd, flow) -> {
          Move move = Move.start(fd, flow);
          return new Socket() {
            @Override
            public void held() throws TransplantException {
              move.held();
            }

            @Override
            public byte[] export(byte[] unread) throws TransplantException {
              return move.export(unread);
            }

            @Override
            public void prepareSilentClose() throws TransplantException {
              move.prepareSilentClose();
            }

            @Override
            public void resume() throws TransplantException {
              move.resume();
            }
          };
        };
  }
}
