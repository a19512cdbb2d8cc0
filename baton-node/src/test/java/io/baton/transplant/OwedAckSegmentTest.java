package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.TcpSegment;
import io.baton.transplant.ConnectionState.TcpOptions;
import io.baton.transplant.ConnectionState.Window;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The ACK a restored socket owes when the previous owner delayed its own. */
class OwedAckSegmentTest {
  private static final byte[] REQUEST =
      "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int ISS = 1_000_000;
  private static final int IRS = 0xFFFFFFF0; // wraps within the request

  @Test
  void aRequestTheListenerNeverAcknowledgedIsOwedItsAckFromTheVip() throws Exception {
    int rcvNxt = IRS + 1 + REQUEST.length;
    // The SYN-ACK was the last segment out: its window (65,535 << 7 bytes right of IRS + 1).
    ConnectionState s = state(rcvNxt, new Window(IRS + 1, 64_240, 64_240, 65_535 << 7, IRS + 1));

    TcpSegment ack = ConnectionRestorer.owedAck(s);

    assertThat(s.receivedUnacknowledged()).isTrue();
    assertThat(ack.source()).isEqualTo(new InetSocketAddress(ip("198.18.0.100"), 80));
    assertThat(ack.destination()).isEqualTo(new InetSocketAddress(ip("198.18.0.10"), 40_000));
    assertThat(ack.seq()).as("snd_nxt").isEqualTo(ISS + 1);
    assertThat(ack.ack()).as("rcv_nxt").isEqualTo(rcvNxt);
    assertThat(ack.flags()).isEqualTo(TcpSegment.ACK);
    // The right edge stays where the client saw it: the window shrinks by the request.
    assertThat(ack.window()).isEqualTo(((65_535 << 7) - REQUEST.length) >>> 7);
    assertThat(ack.timestamp()).as("filled in when sent").isNotNull();
  }

  @Test
  void nothingIsOwedOnceTheRequestWasAcknowledged() throws Exception {
    int rcvNxt = IRS + 1 + REQUEST.length;
    ConnectionState s = state(rcvNxt, new Window(IRS + 1, 64_240, 64_240, 65_535 << 7, rcvNxt));

    assertThat(s.receivedUnacknowledged()).isFalse();
    assertThat(ConnectionRestorer.owedAck(s)).isNull();
  }

  private static ConnectionState state(int rcvNxt, Window window) throws Exception {
    return new ConnectionState(
        new FlowKey(ip("198.18.0.10"), 40_000, ip("198.18.0.100"), 80),
        ISS,
        ISS + 1,
        IRS,
        rcvNxt,
        window,
        1460,
        new TcpOptions(true, true, true, 7, 7),
        12_345,
        REQUEST,
        REQUEST.length,
        new byte[0],
        0,
        false);
  }

  private static InetAddress ip(String text) throws Exception {
    return InetAddress.getByName(text);
  }
}
