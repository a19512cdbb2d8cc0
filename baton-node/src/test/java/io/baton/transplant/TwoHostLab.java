package io.baton.transplant;

import io.baton.dataplane.DirectForwardingTable;
import io.baton.dataplane.Vip;
import io.baton.dataplane.VipGuard;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.RstCounter;
import io.baton.lab.TwoHostTopology;
import io.baton.linux.Sockets;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Test fixture: a client, host A that owns the VIP on the front segment (the dispatcher's position)
 * and host B that holds the VIP on lo (a server), joined by a front and a fabric segment. A
 * forwards packets of moved connections to B through a {@link DirectForwardingTable}; B's {@link
 * VipGuard} drops VIP packets until their socket exists.
 */
final class TwoHostLab implements AutoCloseable {
  static final String VIP = TwoHostTopology.VIP;
  static final int PORT = 8080;
  static final String B_FABRIC_IP = TwoHostTopology.B_FABRIC_IP;

  /** The VIP and B's fabric address of this lab's family. */
  final String vip;

  final String bFabricIp;

  final Lab lab;
  final Host client;
  final Host a;
  final Host b;
  final RstCounter clientRsts;
  final DirectForwardingTable forwarding;
  final VipGuard guard;

  TwoHostLab(String purpose) throws Exception {
    this(purpose, false);
  }

  /** With {@code ipv6}, the lab is dual-stack and the moved connections are IPv6 ones. */
  TwoHostLab(String purpose, boolean ipv6) throws Exception {
    lab = Lab.create(purpose);
    this.vip = ipv6 ? TwoHostTopology.VIP6 : VIP;
    this.bFabricIp = ipv6 ? TwoHostTopology.B_FABRIC_IP6 : B_FABRIC_IP;
    try {
      TwoHostTopology hosts =
          ipv6 ? TwoHostTopology.buildDualStack(lab) : TwoHostTopology.build(lab);
      client = hosts.client();
      a = hosts.a();
      b = hosts.b();
      clientRsts = RstCounter.install(client);
      Vip vip = new Vip(ip(this.vip), PORT);
      forwarding =
          a.call(() -> DirectForwardingTable.create("baton_fwd", "front", "fabric", List.of(vip)));
      guard = b.call(() -> VipGuard.install(VipGuard.DEFAULT_TABLE, List.of(vip)));
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  /** A blocking listener on VIP:PORT in host A; call on A's thread. */
  static int listenOnVip() throws Exception {
    return listenOn(VIP);
  }

  /** A blocking listener on {@code vip}:PORT (either family); call on A's thread. */
  static int listenOn(String vip) throws Exception {
    int fd = Sockets.tcpSocketFor(ip(vip), false);
    Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1, "SO_REUSEADDR");
    Sockets.bind(fd, new InetSocketAddress(ip(vip), PORT));
    Sockets.listen(fd, 16);
    return fd;
  }

  /** A blocking connection from the client to {@code vip}:PORT; call on the client's thread. */
  static int connectTo(String vip) throws Exception {
    int fd = Sockets.tcpSocketFor(ip(vip), false);
    Sockets.connect(fd, new InetSocketAddress(ip(vip), PORT));
    return fd;
  }

  /**
   * Start of a handoff from A to B ({@link Move}): A's kernel stops processing the client's packets
   * (socket filter), then A's output on the flow is dropped and the client's packets go to B (one
   * nftables batch). Call on any thread.
   */
  Move freezeTowardB(int aFd) throws Exception {
    Move move = a.call(() -> Move.start(aFd));
    holdForB(move);
    return move;
  }

  /** The nftables half of {@link #freezeTowardB}, for tests that act between the two halves. */
  void holdForB(Move move) throws Exception {
    a.call(
        () -> {
          forwarding.freezeAndForward(move.flow(), ip(bFabricIp));
          move.held();
          return null;
        });
  }

  /**
   * Completes a handoff the way a dispatcher does: export, restore on B from the encoded bytes,
   * release A's copy silently, stop dropping A's output on the flow.
   */
  Moved moveToB(Move move, byte[] alreadyRead) throws Exception {
    long exportNs = -System.nanoTime();
    byte[] wire = a.call(() -> move.export(alreadyRead));
    exportNs += System.nanoTime();
    ConnectionRestorer.Restored restored =
        b.call(
            () ->
                ConnectionRestorer.restore(
                    ConnectionStateCodec.decode(wire), ConnectionRestorer.Options.DEFAULT));
    ConnectionState state = ConnectionStateCodec.decode(wire);
    a.call(
        () -> {
          move.release();
          forwarding.unfreeze(state.flow());
          return null;
        });
    return new Moved(state, restored, exportNs);
  }

  /**
   * What a move produced: the state as it crossed the wire, the socket on B, and how long the
   * export took as seen from the calling thread (the hop to A's thread included).
   */
  record Moved(ConnectionState state, ConnectionRestorer.Restored restored, long exportNs) {}

  static InetAddress ip(String text) {
    return InetAddress.ofLiteral(text);
  }

  @Override
  public void close() throws java.io.IOException {
    try {
      a.call(
          () -> {
            forwarding.close();
            return null;
          });
      b.call(
          () -> {
            guard.close();
            return null;
          });
    } catch (java.io.IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new java.io.IOException("lab teardown failed", e);
    } finally {
      lab.close();
    }
  }
}
