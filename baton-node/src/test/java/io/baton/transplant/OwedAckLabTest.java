package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.Nftables;
import io.baton.linux.Sockets;
import io.baton.linux.TcpInfo;
import io.baton.server.delivery.CloseListener;
import io.baton.server.delivery.ConnectionInfo;
import io.baton.server.delivery.RelayDelivery;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.EventExecutor;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A dispatcher-like listener that delays its first ACK ({@code TCP_QUICKACK} off, the VIP's {@code
 * delay-first-ack}) hands the client's request over unacknowledged; the relay on the new owner
 * acknowledges it on its own when its upstream is slow (OwedAck), and leaves it to the answer when
 * the answer comes at once. Real kernels: the client, A and B of {@link TwoHostLab}.
 */
@Tag("lab")
class OwedAckLabTest {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final byte[] REQUEST =
      "GET /slow HTTP/1.1\r\nHost: vip\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] ANSWER =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n"
          .getBytes(StandardCharsets.US_ASCII);

  @Test
  void aRelayThatHasSentNothingAcknowledgesTheRequestItself() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("owed-ack-silent")) {
      // The upstream's SYNs are dropped: the relay keeps connecting and neither reads the
      // request nor sends anything, so only its owed ACK can acknowledge the request.
      int port = lab.b.call(OwedAckLabTest::portWhoseSynsAreDropped);
      Exchange x = exchange(lab, port, null);
      try {
        TransplantLabTest.awaitTrue(
            () -> TcpInfo.of(x.clientFd).unacked() == 0, "the client's request acknowledged");
        assertThat(x.relay.owedAcksSent()).as("ACKs the relay sent on its own").isEqualTo(1);
        assertNoRetransmissionNorReset(lab, x);
      } finally {
        x.close();
      }
    }
  }

  @Test
  void aSlowAnswerFindsTheRequestAcknowledgedWithoutARetransmission() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("owed-ack-slow")) {
      CountDownLatch answer = new CountDownLatch(1);
      ServerSocket upstream = lab.b.call(() -> answering(answer));
      Exchange x = exchange(lab, upstream.getLocalPort(), upstream);
      try {
        // The upstream answers only once the test has seen the request acknowledged: by the
        // relay's window update as it reads the request, or by its owed ACK.
        TransplantLabTest.awaitTrue(
            () -> TcpInfo.of(x.clientFd).unacked() == 0, "the client's request acknowledged");
        assertThat(Sockets.ioctlInt(x.clientFd, FIONREAD, "FIONREAD"))
            .as("answer bytes at the client when its request was acknowledged")
            .isZero();
        answer.countDown();
        assertThat(x.answerAtClient()).isEqualTo(new String(ANSWER, StandardCharsets.US_ASCII));
        assertNoRetransmissionNorReset(lab, x);
      } finally {
        answer.countDown();
        x.close();
      }
    }
  }

  @Test
  void aPromptAnswerCarriesTheAcknowledgement() throws Exception {
    try (TwoHostLab lab = new TwoHostLab("owed-ack-prompt")) {
      ServerSocket upstream = lab.b.call(() -> answering(new CountDownLatch(0)));
      Exchange x = exchange(lab, upstream.getLocalPort(), upstream);
      try {
        assertThat(x.answerAtClient()).isEqualTo(new String(ANSWER, StandardCharsets.US_ASCII));
        x.closed.await(LIMIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(x.relay.owedAcksSent()).as("ACKs the relay sent on its own").isZero();
        assertNoRetransmissionNorReset(lab, x);
      } finally {
        x.close();
      }
    }
  }

  private static final long FIONREAD = 0x541B;

  /** One client connection moved from A to B and relayed there to an upstream. */
  private record Exchange(
      int clientFd,
      RelayDelivery relay,
      EventLoopGroup group,
      ServerSocket upstream,
      CountDownLatch closed) {
    String answerAtClient() throws Exception {
      BlockingFd in = new BlockingFd(clientFd, LIMIT);
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      int n;
      while ((n = in.read(buf, 0, buf.length)) > 0) got.write(buf, 0, n);
      return got.toString(StandardCharsets.US_ASCII);
    }

    void close() throws Exception {
      Sockets.closeQuietly(clientFd);
      if (upstream != null) upstream.close();
      group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  /**
   * Connects, sends the request, moves the connection to B with the request unacknowledged (A's
   * listener delays its ACK by the kernel's 40 ms; a move that took longer than that, which finds
   * the request acknowledged, is tried again with a new connection), and relays it on B to the
   * upstream on B's loopback {@code port} ({@code upstream}, closed with the exchange, if any).
   */
  private static Exchange exchange(TwoHostLab lab, int port, ServerSocket upstream)
      throws Exception {
    // B's relay is ready before the client sends: the client's clock (its loss probe, ~200 ms
    // after the request) must not run through the relay's set-up.
    // Netty's threads take the namespace of the thread that starts them: B's.
    EventLoopGroup group =
        lab.b.call(
            () -> {
              EventLoopGroup g = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
              for (EventExecutor e : g) e.submit(() -> {}).syncUninterruptibly();
              return g;
            });
    RelayDelivery relay =
        new RelayDelivery(
            group, new InetSocketAddress(InetAddress.getLoopbackAddress(), port), LIMIT);
    // The client probes for a lost request 2 s after it (rto_min, not 200 ms): this test's own
    // steps (namespace hops, first calls) take a good part of 200 ms, a server's do not.
    lab.client.execOrThrow("sysctl", "-qw", "net.ipv4.tcp_rto_min_us=2000000");
    int listener = lab.a.call(TwoHostLab::listenOnVip);
    Sockets.setInt(listener, Sockets.IPPROTO_TCP, Sockets.TCP_QUICKACK, 0, "TCP_QUICKACK");
    try {
      for (int attempt = 1; ; attempt++) {
        int clientFd = lab.client.call(() -> TwoHostLab.connectTo(TwoHostLab.VIP));
        int aFd = lab.a.call(() -> Sockets.accept(listener, false));
        new BlockingFd(clientFd, LIMIT).writeAll(REQUEST, 0, REQUEST.length);
        byte[] head = TransplantLabTest.readHead(new BlockingFd(aFd, LIMIT));
        Move move = lab.freezeTowardB(aFd);
        TwoHostLab.Moved moved = lab.moveToB(move, head);
        if (!moved.restored().ackOwed()) {
          // A's delayed ACK fired before the freeze (a stalled test thread): not this test's case.
          Sockets.closeQuietly(moved.restored().fd());
          Sockets.closeQuietly(clientFd);
          assertThat(attempt).as("moves that found the request acknowledged").isLessThan(5);
          continue;
        }
        assertThat(TcpInfo.of(clientFd).unacked())
            .as("the client's request unacknowledged after the move")
            .isEqualTo(1);
        CountDownLatch closed = new CountDownLatch(1);
        relay.deliver(
            moved.restored().fd(),
            moved.restored().unsentTail(),
            new ConnectionInfo(
                moved.state().flow(), "GET /slow", new byte[0], moved.restored().owedAck()),
            new CloseListener() {
              @Override
              public void onClosed(long fromClient, long toClient) {
                closed.countDown();
              }
            });
        return new Exchange(clientFd, relay, group, upstream, closed);
      }
    } finally {
      Sockets.closeQuietly(listener);
    }
  }

  /**
   * An upstream on this thread's namespace's loopback that reads the request and answers once
   * {@code answer} is open. Call on B's thread (a socket takes its maker's namespace).
   */
  private static ServerSocket answering(CountDownLatch answer) throws Exception {
    ServerSocket upstream = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
    CompletableFuture.runAsync(
        () -> {
          try (Socket s = upstream.accept()) {
            InputStream in = s.getInputStream();
            assertThat(in.readNBytes(REQUEST.length)).isEqualTo(REQUEST);
            answer.await(LIMIT.toSeconds(), TimeUnit.SECONDS);
            s.getOutputStream().write(ANSWER);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
    return upstream;
  }

  /** A loopback port whose connection attempts hang: its SYNs are dropped. Call on B's thread. */
  private static int portWhoseSynsAreDropped() throws Exception {
    int port = 18_080;
    try (Nftables nft = Nftables.open()) {
      nft.run(
          """
          table inet bt_owed_ack {
            chain output {
              type filter hook output priority 0; policy accept;
              oifname "lo" tcp dport %d tcp flags syn drop
            }
          }
          """
              .formatted(port));
    }
    return port;
  }

  /** The client retransmitted nothing and received no RST. */
  private static void assertNoRetransmissionNorReset(TwoHostLab lab, Exchange x) throws Exception {
    assertThat(TcpInfo.of(x.clientFd).totalRetrans())
        .as("segments the client retransmitted")
        .isZero();
    assertThat(lab.clientRsts.received()).isZero();
  }
}
