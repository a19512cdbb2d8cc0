package io.baton.worker;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class PassProtocolTest {
  @Test
  void messagesRoundTripAsTheCExampleReadsThem() throws Exception {
    var conn =
        new PassProtocol.Conn(
            42,
            new InetSocketAddress(InetAddress.ofLiteral("198.18.0.10"), 51234),
            new InetSocketAddress(InetAddress.ofLiteral("198.18.0.100"), 80));
    byte[] wire = PassProtocol.conn(conn);
    assertThat(new String(wire, US_ASCII)).isEqualTo("CONN 42 198.18.0.10:51234 198.18.0.100:80");
    assertThat(PassProtocol.parseConn(wire)).isEqualTo(conn);
    var closed = new PassProtocol.Closed(42, 120, 104_857_600);
    assertThat(new String(PassProtocol.closed(closed), US_ASCII))
        .isEqualTo("CLOSED 42 120 104857600");
    assertThat(PassProtocol.parseClosed(PassProtocol.closed(closed))).isEqualTo(closed);
    PassProtocol.parseHello(PassProtocol.hello());
  }

  @Test
  void malformedMessagesAreRefusedSayingWhatCame() {
    assertThatThrownBy(() -> PassProtocol.parseHello("BATON-PASS 2".getBytes(US_ASCII)))
        .hasMessage("expected the greeting 'BATON-PASS 1', got 'BATON-PASS 2'");
    assertThatThrownBy(() -> PassProtocol.parseClosed("CLOSED 1 2".getBytes(US_ASCII)))
        .hasMessage("expected 'CLOSED' with 3 fields, got 'CLOSED 1 2'");
    assertThatThrownBy(() -> PassProtocol.parseClosed("CLOSED 1 -2 3".getBytes(US_ASCII)))
        .hasMessage("not a count: '-2' in 'CLOSED 1 -2 3'");
    assertThatThrownBy(() -> PassProtocol.parseClosed("CLOSED 1 2 3\n\u0001".getBytes(US_ASCII)))
        .hasMessage("not a count: '3??' in 'CLOSED 1 2 3??'");
    // Names are never looked up: only literal addresses.
    assertThatThrownBy(
            () ->
                PassProtocol.parseConn("CONN 1 example.org:80 198.18.0.100:80".getBytes(US_ASCII)))
        .hasMessage("not an IP:PORT: 'example.org:80' in 'CONN 1 example.org:80 198.18.0.100:80'");
    assertThatThrownBy(
            () ->
                PassProtocol.parseConn(
                    "CONN 1 198.18.0.10:70000 198.18.0.100:80".getBytes(US_ASCII)))
        .hasMessageStartingWith("not an IP:PORT: '198.18.0.10:70000'");
  }
}
