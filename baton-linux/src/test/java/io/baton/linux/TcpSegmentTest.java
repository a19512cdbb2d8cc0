package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Packet building and checksums of {@link TcpSegment}; pure, no kernel involved. */
class TcpSegmentTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void internetChecksumMatchesRfc1071Example() {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its
    // complement.
    byte[] words = HEX.parseHex("0001f203f4f5f6f7");
    assertThat(TcpSegment.internetChecksum(words, 0, words.length, 0)).isEqualTo(~0xddf2 & 0xffff);
  }

  @Test
  void internetChecksumOfAKnownIpv4Header() {
    // A widely reproduced example header (192.168.0.1 -> 192.168.0.199, UDP): checksum b861.
    byte[] header = HEX.parseHex("450000730000400040110000c0a80001c0a800c7");
    assertThat(TcpSegment.internetChecksum(header, 0, header.length, 0)).isEqualTo(0xb861);
  }

  @Test
  void internetChecksumPadsAnOddLastByte() {
    byte[] odd = {0x12, 0x34, 0x56};
    // 1234 + 5600 = 6834 -> complement 97cb
    assertThat(TcpSegment.internetChecksum(odd, 0, 3, 0)).isEqualTo(0x97cb);
  }

  @Test
  void buildsAFinAckWithTimestampsByteForByte() throws Exception {
    TcpSegment fin =
        new TcpSegment(
            address("198.18.0.2", 40000),
            address("198.18.0.100", 8080),
            0xfffffffe,
            0x01020304,
            TcpSegment.FIN | TcpSegment.ACK,
            502,
            new TcpSegment.Timestamp(0, 0xcafebabe));
    byte[] p = fin.toIpv4Packet();

    assertThat(p).hasSize(52).hasSize(fin.packetLength());
    String hex = HEX.formatHex(p);
    assertThat(hex.substring(0, 40))
        .as("IPv4 header without its checksum")
        .startsWith("45000034" + "0000" + "4000" + "4006")
        .endsWith("c6120002" + "c6120064");
    assertThat(hex.substring(40))
        .isEqualTo(
            "9c40"
                + "1f90"
                + "fffffffe"
                + "01020304"
                + "80"
                + "11"
                + "01f6"
                + hex.substring(72, 76)
                + "0000" // checksum checked below, urgent pointer 0
                + "0101080a"
                + "00000000"
                + "cafebabe");
    assertChecksumsVerify(p);
  }

  @Test
  void withoutTimestampsTheHeaderIsTwentyBytes() throws Exception {
    TcpSegment fin =
        new TcpSegment(
            address("10.1.2.3", 1), address("10.3.2.1", 65535), 7, 9, TcpSegment.ACK, 0, null);
    byte[] p = fin.toIpv4Packet();
    assertThat(p).hasSize(40);
    assertThat(p[32] & 0xff).as("data offset 5 words").isEqualTo(0x50);
    assertChecksumsVerify(p);
  }

  @Test
  void checksumsVerifyForManySegments() throws Exception {
    java.util.Random random = new java.util.Random(42);
    for (int i = 0; i < 1000; i++) {
      byte[] a = new byte[4];
      byte[] b = new byte[4];
      random.nextBytes(a);
      random.nextBytes(b);
      TcpSegment s =
          new TcpSegment(
              new InetSocketAddress(InetAddress.getByAddress(a), 1 + random.nextInt(65535)),
              new InetSocketAddress(InetAddress.getByAddress(b), 1 + random.nextInt(65535)),
              random.nextInt(),
              random.nextInt(),
              random.nextInt(256),
              random.nextInt(65536),
              random.nextBoolean()
                  ? null
                  : new TcpSegment.Timestamp(random.nextInt(), random.nextInt()));
      assertChecksumsVerify(s.toIpv4Packet());
    }
  }

  @Test
  void buildsAnIpv6FinAckWithTimestampsByteForByte() throws Exception {
    TcpSegment fin =
        new TcpSegment(
            address("2001:2::2", 40000),
            address("2001:2::100", 8080),
            0xfffffffe,
            0x01020304,
            TcpSegment.FIN | TcpSegment.ACK,
            502,
            new TcpSegment.Timestamp(0, 0xcafebabe));
    byte[] p = fin.toPacket();

    assertThat(fin.ipv6()).isTrue();
    assertThat(p).hasSize(72).hasSize(fin.packetLength());
    String hex = HEX.formatHex(p);
    assertThat(hex.substring(0, 80))
        .as("IPv6 header: version 6, payload 32, next header TCP, hop limit 64, addresses")
        .isEqualTo(
            "60000000"
                + "0020"
                + "06"
                + "40"
                + "20010002000000000000000000000002"
                + "20010002000000000000000000000100");
    assertThat(hex.substring(80, 112)).isEqualTo("9c401f90fffffffe010203048011" + "01f6");
    assertThat(hex.substring(116)).isEqualTo("0000" + "0101080a" + "00000000" + "cafebabe");
    assertIpv6ChecksumVerifies(p);
    assertThatThrownBy(fin::toIpv4Packet).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void ipv6ChecksumsVerifyForManySegments() throws Exception {
    java.util.Random random = new java.util.Random(6);
    for (int i = 0; i < 1000; i++) {
      byte[] a = new byte[16];
      byte[] b = new byte[16];
      random.nextBytes(a);
      random.nextBytes(b);
      a[0] = 0x20; // a global unicast address: never read back as v4-mapped
      b[0] = 0x20;
      TcpSegment s =
          new TcpSegment(
              new InetSocketAddress(InetAddress.getByAddress(a), 1 + random.nextInt(65535)),
              new InetSocketAddress(InetAddress.getByAddress(b), 1 + random.nextInt(65535)),
              random.nextInt(),
              random.nextInt(),
              random.nextInt(256),
              random.nextInt(65536),
              random.nextBoolean()
                  ? null
                  : new TcpSegment.Timestamp(random.nextInt(), random.nextInt()));
      assertIpv6ChecksumVerifies(s.toPacket());
    }
  }

  /**
   * The TCP checksum of an IPv6 packet verifies against the pseudo-header of RFC 8200 section 8.1,
   * built here byte by byte: source, destination, 32-bit upper-layer length, 3 zero bytes, next
   * header.
   */
  private static void assertIpv6ChecksumVerifies(byte[] p) {
    int tcpLength = p.length - 40;
    byte[] withPseudo = new byte[40 + tcpLength];
    System.arraycopy(p, 8, withPseudo, 0, 32);
    withPseudo[32] = (byte) (tcpLength >>> 24);
    withPseudo[33] = (byte) (tcpLength >>> 16);
    withPseudo[34] = (byte) (tcpLength >>> 8);
    withPseudo[35] = (byte) tcpLength;
    withPseudo[39] = 6;
    System.arraycopy(p, 40, withPseudo, 40, tcpLength);
    assertThat(TcpSegment.internetChecksum(withPseudo, 0, withPseudo.length, 0))
        .as("TCP checksum over the IPv6 pseudo-header")
        .isZero();
  }

  @Test
  void refusesWhatCannotBeSent() throws Exception {
    InetSocketAddress v4 = address("198.18.0.2", 1);
    InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("::1"), 1);
    assertThatThrownBy(() -> new TcpSegment(v6, v4, 0, 0, TcpSegment.ACK, 0, null))
        .hasMessageContaining("source and destination must be of one family");
    assertThatThrownBy(() -> new TcpSegment(v4, address("198.18.0.3", 0), 0, 0, 0, 0, null))
        .hasMessageContaining("destination port must not be 0");
    assertThatThrownBy(() -> new TcpSegment(v4, v4, 0, 0, 0, 65536, null))
        .hasMessageContaining("window field must be 0..65535");
    assertThatThrownBy(() -> new TcpSegment(v4, v4, 0, 0, 0x100, 0, null))
        .hasMessageContaining("flags beyond 8 bits");
  }

  /** Both checksums of a packet verify: the sums over header and pseudo-header come to 0xffff. */
  private static void assertChecksumsVerify(byte[] p) {
    assertThat(TcpSegment.internetChecksum(p, 0, 20, 0)).as("IP header checksum").isZero();
    int tcpLength = p.length - 20;
    byte[] src = java.util.Arrays.copyOfRange(p, 12, 16);
    byte[] dst = java.util.Arrays.copyOfRange(p, 16, 20);
    int pseudo = TcpSegment.pseudoHeaderSum(src, dst, tcpLength);
    assertThat(TcpSegment.internetChecksum(p, 20, tcpLength, pseudo)).as("TCP checksum").isZero();
  }

  private static InetSocketAddress address(String ip, int port) throws Exception {
    return new InetSocketAddress(InetAddress.getByName(ip), port);
  }
}
