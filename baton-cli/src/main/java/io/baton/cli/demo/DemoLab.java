package io.baton.cli.demo;

import io.baton.dataplane.DirectForwardingTable;
import io.baton.dataplane.Vip;
import io.baton.dataplane.VipGuard;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.RstCounter;
import io.baton.lab.TwoHostTopology;
import io.baton.linux.Sockets;
import io.baton.transplant.ConnectionRestorer;
import io.baton.transplant.ConnectionState;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.FlowKey;
import io.baton.transplant.Move;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * The transplant demo's lab: a client, host {@code a} that owns the VIP on the front segment (where
 * a dispatcher sits) and host {@code b} that holds the VIP on lo behind its guard (a server),
 * joined by front and fabric segments. {@link #handOff} moves a connection accepted on {@code a} to
 * {@code b} the way a dispatcher does.
 *
 * <p>Thread-safe: every namespace-bound step runs on that host's own lab thread.
 */
final class DemoLab implements AutoCloseable {
  static final String VIP = TwoHostTopology.VIP;
  static final int PORT = 8080;
  static final String B_FABRIC_IP = TwoHostTopology.B_FABRIC_IP;

  /** How long a closed connection's forwarding entry outlives it, for late FIN/ACKs. */
  static final Duration GRACE = Duration.ofMillis(500);

  private record Retired(FlowKey flow, long atNs) {}

  private final java.util.ArrayDeque<Retired> retired = new java.util.ArrayDeque<>();

  final Lab lab;
  final Host client;
  final Host a;
  final Host b;
  private final DirectForwardingTable forwarding;
  private final VipGuard guard;
  private final int listener;
  private final RstCounter rsts;

  DemoLab() throws Exception {
    lab = Lab.create("demo");
    try {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      client = hosts.client();
      a = hosts.a();
      b = hosts.b();
      rsts = RstCounter.install(client);
      Vip vip = new Vip(ip(VIP), PORT);
      forwarding =
          a.call(() -> DirectForwardingTable.create("baton_fwd", "front", "fabric", List.of(vip)));
      guard = b.call(() -> VipGuard.install(VipGuard.DEFAULT_TABLE, List.of(vip)));
      listener =
          a.call(
              () -> {
                int fd = Sockets.tcpSocket(true);
                Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1, "SO_REUSEADDR");
                Sockets.bind(fd, new InetSocketAddress(ip(VIP), PORT));
                Sockets.listen(fd, 128);
                return fd;
              });
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  /** Waits for the next client connection on a's VIP listener and accepts it. */
  int accept(long deadlineNs) throws java.io.IOException {
    while (true) {
      int fd = Sockets.accept(listener, false);
      if (fd >= 0) return fd;
      long leftMs = (deadlineNs - System.nanoTime()) / 1_000_000;
      if (leftMs <= 0) throw new java.io.IOException("no client connected in time");
      Sockets.poll(listener, Sockets.POLLIN, (int) Math.min(leftMs, 1000));
    }
  }

  /** What one handoff cost and produced. */
  record Handoff(
      ConnectionState state,
      ConnectionRestorer.Restored restored,
      long exportNs,
      long nftNs,
      long restoreNs,
      long totalNs,
      int wireBytes) {}

  /**
   * Hands {@code aFd} from a to b: freeze, one nftables batch (drop a's output, forward the
   * client's packets to b), export, encode; decode and restore on b; release a's copy silently and
   * stop dropping its output.
   */
  Handoff handOff(int aFd, byte[] alreadyRead) throws Exception {
    long start = System.nanoTime();
    record Exported(Move move, byte[] wire, long exportNs, long nftNs) {}
    Exported exported =
        a.call(
            () -> {
              long t0 = System.nanoTime();
              Move move = Move.start(aFd);
              long t1 = System.nanoTime();
              forwarding.freezeAndForward(move.flow(), ip(B_FABRIC_IP));
              move.held();
              long t2 = System.nanoTime();
              byte[] wire = move.export(alreadyRead);
              long t3 = System.nanoTime();
              return new Exported(move, wire, (t1 - t0) + (t3 - t2), t2 - t1);
            });
    ConnectionRestorer.Restored restored =
        b.call(
            () ->
                ConnectionRestorer.restore(
                    ConnectionStateCodec.decode(exported.wire()),
                    ConnectionRestorer.Options.DEFAULT));
    ConnectionState state = ConnectionStateCodec.decode(exported.wire());
    a.call(
        () -> {
          exported.move().release();
          forwarding.unfreeze(state.flow());
          return null;
        });
    return new Handoff(
        state,
        restored,
        exported.exportNs(),
        exported.nftNs(),
        restored.timings().totalNs(),
        System.nanoTime() - start,
        exported.wire().length);
  }

  /**
   * The server closed {@code flow}. Its forwarding entry stays for a grace period, so the client's
   * late FIN and ACKs still reach the server instead of a's stack (which would answer them with a
   * RST); {@link #reap} removes it afterwards.
   */
  void retire(FlowKey flow) {
    synchronized (retired) {
      retired.addLast(new Retired(flow, System.nanoTime()));
    }
  }

  /** Removes, in one batch, the forwarding entries whose grace period is over. */
  void reap() throws Exception {
    List<FlowKey> due = new java.util.ArrayList<>();
    long now = System.nanoTime();
    synchronized (retired) {
      while (!retired.isEmpty() && now - retired.peekFirst().atNs() >= GRACE.toNanos()) {
        due.add(retired.removeFirst().flow());
      }
    }
    if (due.isEmpty()) return;
    a.call(
        () -> {
          forwarding.removeAll(due);
          return null;
        });
  }

  /** Waits out the grace period of every retired flow and removes them all. */
  void reapAll() throws Exception {
    while (true) {
      long waitNs;
      synchronized (retired) {
        if (retired.isEmpty()) return;
        waitNs = retired.peekLast().atNs() + GRACE.toNanos() - System.nanoTime();
      }
      if (waitNs > 0) {
        // A protocol timer (the grace period), not synchronisation with another thread.
        Thread.sleep(Duration.ofNanos(waitNs));
      }
      reap();
    }
  }

  int forwardingEntries() throws Exception {
    return a.call(forwarding::size);
  }

  long guardDrops() throws Exception {
    return b.call(guard::droppedPackets);
  }

  /** RST segments the client received and sent so far. */
  long[] clientRsts() throws Exception {
    return new long[] {rsts.received(), rsts.sent()};
  }

  static Inet4Address ip(String text) {
    try {
      return (Inet4Address) InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(text, e);
    }
  }

  @Override
  public void close() {
    try {
      a.call(
          () -> {
            Sockets.closeQuietly(listener);
            forwarding.close();
            return null;
          });
      b.call(
          () -> {
            guard.close();
            return null;
          });
    } catch (Exception e) {
      // The namespaces go away below, and their tables with them.
    } finally {
      lab.close();
    }
  }
}
