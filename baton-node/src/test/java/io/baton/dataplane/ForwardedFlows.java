package io.baton.dataplane;

import io.baton.lab.Host;
import io.baton.lab.TwoHostTopology;
import io.baton.linux.FdIo;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.transplant.ConnectionRestorer;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.FlowKey;
import io.baton.transplant.Move;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Test fixture over a {@link TwoHostTopology}: host {@code a} is the dispatcher (VIP on its front
 * interface, a {@link ForwardingService} given by the test), host {@code b} a server (VIP on lo).
 * Opens real TCP connections from the client to listeners on {@code a}, moves them to {@code b} the
 * way a dispatcher does (freeze, forwarding entry, export, restore, release), and checks that bytes
 * still cross them. Raw descriptors throughout; every wait has a deadline.
 */
final class ForwardedFlows {
  static final Duration LIMIT = Duration.ofSeconds(10);
  static final Inet4Address VIP = ip(TwoHostTopology.VIP);
  static final Inet4Address CLIENT = ip(TwoHostTopology.CLIENT_IP);
  static final Inet4Address B_FABRIC = ip(TwoHostTopology.B_FABRIC_IP);

  private final TwoHostTopology hosts;

  ForwardedFlows(TwoHostTopology hosts) {
    this.hosts = hosts;
  }

  /** A connection as both ends see it: the client's descriptor and the serving end's. */
  record Connection(FlowKey flow, int clientFd, int serverFd) {}

  /** A listener on VIP:{@code port} in host a. */
  int listen(int port) throws Exception {
    return hosts
        .a()
        .call(
            () -> {
              int fd = Sockets.tcpSocket(true);
              Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1, "SO_REUSEADDR");
              Sockets.bind(fd, new InetSocketAddress(VIP, port));
              Sockets.listen(fd, 16);
              return fd;
            });
  }

  /**
   * Connects from CLIENT:{@code clientPort} to VIP:{@code vipPort} and accepts on {@code listener}
   * in host a: the handshake completed on a's own stack.
   */
  Connection connect(int clientPort, int vipPort, int listener) throws Exception {
    int clientFd =
        hosts
            .client()
            .call(
                () -> {
                  int fd = Sockets.tcpSocket(true);
                  // Several sockets may share one local port as long as their 4-tuples differ.
                  Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1, "SO_REUSEADDR");
                  Sockets.bind(fd, new InetSocketAddress(CLIENT, clientPort));
                  Sockets.connect(fd, new InetSocketAddress(VIP, vipPort));
                  return fd;
                });
    try {
      int r =
          hosts
              .client()
              .call(() -> Sockets.poll(clientFd, Sockets.POLLOUT, (int) LIMIT.toMillis()));
      int error =
          hosts
              .client()
              .call(
                  () -> Sockets.getInt(clientFd, Sockets.SOL_SOCKET, Sockets.SO_ERROR, "SO_ERROR"));
      if (r <= 0 || error != 0) {
        throw new LinuxException(
            "connect(" + CLIENT.getHostAddress() + ":" + clientPort + " -> VIP:" + vipPort + ")",
            r <= 0 ? "not connected within " + LIMIT : "errno " + error);
      }
      int aFd =
          hosts
              .a()
              .call(
                  () -> {
                    if (Sockets.poll(listener, Sockets.POLLIN, (int) LIMIT.toMillis()) <= 0) {
                      throw new LinuxException(
                          "accept on VIP:" + vipPort, "no connection within " + LIMIT);
                    }
                    return Sockets.accept(listener, true);
                  });
      return new Connection(new FlowKey(CLIENT, clientPort, VIP, vipPort), clientFd, aFd);
    } catch (Exception e) {
      Sockets.closeQuietly(clientFd);
      throw e;
    }
  }

  /**
   * Moves {@code c} from host a to host b as handoff {@code token} of {@code service}; returns the
   * connection with b's restored descriptor as its serving end.
   */
  Connection moveToB(Connection c, ForwardingService service, long token) throws Exception {
    return moveToB(
        c, flow -> service.forward(flow, B_FABRIC, token).get(LIMIT.toSeconds(), TimeUnit.SECONDS));
  }

  /** How a test forwards a flow's later packets to b: a forwarding service, or something else. */
  interface Forwarder {
    void forwardToB(FlowKey flow) throws Exception;
  }

  /**
   * As {@link #moveToB(Connection, ForwardingService, long)}, forwarding with {@code forwarder}.
   */
  Connection moveToB(Connection c, Forwarder forwarder) throws Exception {
    // As the dispatcher does it: the frozen socket's mark drops its output, the table forwards.
    Move move = hosts.a().call(() -> Move.start(c.serverFd(), c.flow()));
    forwarder.forwardToB(c.flow());
    byte[] wire =
        hosts
            .a()
            .call(
                () -> {
                  move.held();
                  return move.export(new byte[0]);
                });
    ConnectionRestorer.Restored restored =
        hosts
            .b()
            .call(
                () ->
                    ConnectionRestorer.restore(
                        ConnectionStateCodec.decode(wire), ConnectionRestorer.Options.DEFAULT));
    hosts
        .a()
        .call(
            () -> {
              move.release();
              return null;
            });
    return new Connection(c.flow(), c.clientFd(), restored.fd());
  }

  /**
   * One request and answer across {@code c}: the client sends {@code text}, the serving end (on
   * {@code server}) reads exactly that and sends it back reversed, the client reads that.
   */
  void roundTrip(Connection c, Host server, String text) throws Exception {
    byte[] request = text.getBytes(StandardCharsets.UTF_8);
    long deadline = System.nanoTime() + LIMIT.toNanos();
    FdIo.writeAll(c.clientFd(), request, 0, request.length, deadline);
    byte[] seen = server.call(() -> readFully(c.serverFd(), request.length, deadline));
    if (!Arrays.equals(seen, request)) {
      throw new AssertionError(
          "server read '" + new String(seen, StandardCharsets.UTF_8) + "', not '" + text + "'");
    }
    byte[] answer = new StringBuilder(text).reverse().toString().getBytes(StandardCharsets.UTF_8);
    server.call(
        () -> {
          FdIo.writeAll(c.serverFd(), answer, 0, answer.length, deadline);
          return null;
        });
    byte[] got = readFully(c.clientFd(), answer.length, deadline);
    if (!Arrays.equals(got, answer)) {
      throw new AssertionError("client read '" + new String(got, StandardCharsets.UTF_8) + "'");
    }
  }

  static byte[] readFully(int fd, int length, long deadlineNs) throws IOException {
    byte[] out = new byte[length];
    int done = 0;
    while (done < length) {
      int n = FdIo.read(fd, out, done, length - done, deadlineNs);
      if (n < 0) throw new IOException("end of stream after " + done + " of " + length + " bytes");
      done += n;
    }
    return out;
  }

  /** The dispatcher host of a forwarding lab: front 198.18.0.1, fabric 198.18.1.1. */
  static Host dispatcherHost(io.baton.lab.Lab lab) {
    Host d = lab.host("d");
    d.attach(lab.segment("front"), "198.18.0.1/24");
    d.attach(lab.segment("fabric"), "198.18.1.1/24");
    return d;
  }

  /** The flow from the lab client's port {@code clientPort} to VIP:{@code vipPort}. */
  static FlowKey flow(int clientPort, int vipPort) {
    return new FlowKey(CLIENT, clientPort, VIP, vipPort);
  }

  static Inet4Address ip(String text) {
    try {
      return (Inet4Address) InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(text, e);
    }
  }
}
