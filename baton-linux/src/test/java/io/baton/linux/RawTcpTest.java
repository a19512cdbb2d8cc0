package io.baton.linux;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A FIN built by {@link TcpSegment} and sent through {@link RawTcp} is taken by a real socket as
 * its peer's: on a loopback connection in a private namespace, with the timestamps option the
 * kernel negotiates there.
 */
class RawTcpTest {
  private static PrivateNetns ns;

  @BeforeAll
  static void setUp() throws Exception {
    ns = PrivateNetns.create();
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (ns != null) ns.close();
  }

  @Test
  void craftedFinClosesTheReceiveSideAfterTheQueuedBytes() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            int server = c.server();
            Loopback.sendAll(c.client(), "hello".getBytes(US_ASCII));
            Loopback.await("hello queued at the server", () -> Loopback.inq(server) == 5);
            TcpInfo info = TcpInfo.of(server);
            assertThat(info.timestamps()).as("timestamps negotiated on loopback").isTrue();

            // What the server expects next from the client, and what it has had acknowledged.
            TcpRepair.on(server);
            TcpRepair.selectQueue(server, TcpRepair.TCP_RECV_QUEUE);
            int rcvNxt = TcpRepair.queueSeq(server);
            TcpRepair.selectQueue(server, TcpRepair.TCP_SEND_QUEUE);
            int sndUna = TcpRepair.queueSeq(server); // nothing in flight: write_seq == snd_una
            int ourClock = TcpRepair.timestamp(server);
            TcpRepair.selectQueue(server, TcpRepair.TCP_NO_QUEUE);
            TcpRepair.off(server, false);
            // PAWS: the server holds the client's last TSval as ts_recent, so the FIN must not
            // carry
            // an older one; the client's own clock now is what its next segment would carry.
            TcpRepair.on(c.client());
            int clientClock = TcpRepair.timestamp(c.client());
            TcpRepair.off(c.client(), false);

            InetSocketAddress client = Sockets.peerAddress(server);
            InetSocketAddress local = Sockets.localAddress(server);
            RawTcp.send(
                new TcpSegment(
                    client,
                    local,
                    rcvNxt,
                    sndUna,
                    TcpSegment.FIN | TcpSegment.ACK,
                    1024,
                    new TcpSegment.Timestamp(clientClock, ourClock)));

            Loopback.await(
                "the server to take the FIN",
                () -> TcpInfo.of(server).state() == TcpInfo.STATE_CLOSE_WAIT);
            assertThat(Loopback.recvExactly(server, 5)).isEqualTo("hello".getBytes(US_ASCII));
            assertThat(Loopback.recvOnce(server, 16, 0))
                .as("end of stream after the bytes")
                .isEmpty();
          }
        });
  }
}
