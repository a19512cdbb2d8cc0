package io.baton.linux;

import static io.baton.linux.TestPackets.ip6;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The 56-byte version 2 header and the first datagram of an IPv6 UDP flow, byte for byte. */
class EncapHeader6Test {
  private static final EncapHeader6 HEADER =
      new EncapHeader6(
          17, 0xcafe0001, 0x0123456789abcdefL, ip6("2001:2::10"), 40053, ip6("2001:2::100"), 5353);

  @Test
  void theHeaderIsWrittenInNetworkOrderAndReadBack() {
    byte[] b = HEADER.toBytes();
    assertThat(b)
        .containsExactly(
            2, 17, 0, 56, // version, protocol, length
            0xca, 0xfe, 0, 1, // connection id
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // farm check
            0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, // client
            0x9c, 0x75, 0x14, 0xe9, // client port, VIP port
            0, 0, 0, 0, // reserved
            0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0); // VIP
    assertThat(EncapHeader6.parse(b, 0)).isEqualTo(HEADER);
    byte[] shifted = new byte[60];
    System.arraycopy(b, 0, shifted, 4, 56);
    assertThat(EncapHeader6.parse(shifted, 4)).isEqualTo(HEADER);
  }

  @Test
  void anIpv4MappedAddressStaysAnIpv6Address() {
    byte[] b = HEADER.toBytes();
    Arrays.fill(b, 16, 26, (byte) 0); // client ::ffff:0.0.0.16
    b[26] = (byte) 0xff;
    b[27] = (byte) 0xff;
    assertThat(EncapHeader6.parse(b, 0).client().getHostAddress()).isEqualTo("0:0:0:0:0:ffff:0:10");
  }

  @Test
  void aBrokenHeaderIsRefused() {
    byte[] v1 = HEADER.toBytes();
    v1[0] = 1;
    assertThatThrownBy(() -> EncapHeader6.parse(v1, 0)).hasMessageContaining("version 1");
    byte[] length = HEADER.toBytes();
    length[3] = 28;
    assertThatThrownBy(() -> EncapHeader6.parse(length, 0)).hasMessageContaining("length 28");
    byte[] reserved = HEADER.toBytes();
    reserved[39] = 1;
    assertThatThrownBy(() -> EncapHeader6.parse(reserved, 0)).hasMessageContaining("reserved");
    assertThatThrownBy(() -> EncapHeader6.parse(new byte[55], 0)).hasMessageContaining("56 bytes");
    byte[] v2 = HEADER.toBytes();
    assertThatThrownBy(() -> EncapHeader.parse(v2, 0)).hasMessageContaining("version 2");
  }

  @Test
  void theFirstDatagramCarriesTheClientsIpv6PacketWithItsMandatoryChecksum() {
    byte[] data = "query".getBytes(StandardCharsets.US_ASCII);
    byte[] p = HEADER.udpPayload(data);
    assertThat(p).hasSize(56 + 40 + 8 + data.length);
    assertThat(Arrays.copyOf(p, 56)).isEqualTo(HEADER.toBytes());
    byte[] inner = Arrays.copyOfRange(p, 56, p.length);
    // version 6, traffic class and flow label 0; payload length; next header UDP; hop limit 64
    assertThat(Arrays.copyOf(inner, 8)).containsExactly(0x60, 0, 0, 0, 0, 13, 17, 64);
    // Exactly the datagram a client would send (TestPackets builds it independently).
    byte[] client = TestPackets.udp6(ip6("2001:2::10"), 40053, ip6("2001:2::100"), 5353, data);
    assertThat(Arrays.copyOfRange(inner, 8, inner.length))
        .as("addresses, UDP header, checksum and data")
        .isEqualTo(Arrays.copyOfRange(client, 22, client.length));
    int udp = 56 + 40;
    assertThat(p[udp + 6] | p[udp + 7]).as("a checksum is present").isNotZero();
    assertThat(
            TcpSegment.internetChecksum(
                p,
                udp,
                8 + data.length,
                TcpSegment.pseudoHeaderSum(
                    Arrays.copyOfRange(p, 56 + 8, 56 + 24),
                    Arrays.copyOfRange(p, 56 + 24, 56 + 40),
                    EncapHeader.UDP,
                    8 + data.length)))
        .as("the checksum verifies")
        .isZero();
  }

  @Test
  void onlyAUdpFlowsHeaderBuildsADatagram() {
    EncapHeader6 tcp = new EncapHeader6(6, 1, 2, ip6("2001:2::10"), 47000, ip6("2001:2::100"), 80);
    assertThatThrownBy(() -> tcp.udpPayload(new byte[1])).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(
            () -> new EncapHeader6(58, 1, 2, ip6("2001:2::10"), 1, ip6("2001:2::100"), 80))
        .hasMessageContaining("protocol");
  }
}
