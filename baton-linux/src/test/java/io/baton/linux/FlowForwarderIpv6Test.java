package io.baton.linux;

import static io.baton.linux.TestPackets.ACK;
import static io.baton.linux.TestPackets.PSH;
import static io.baton.linux.TestPackets.SYN;
import static io.baton.linux.TestPackets.ip;
import static io.baton.linux.TestPackets.ip6;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.baton.linux.FlowForwarder.Counters;
import io.baton.linux.FlowForwarder.Encap;
import io.baton.linux.FlowForwarder.Flow;
import io.baton.linux.FlowForwarder.Flow6;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link FlowForwarder} and {@link EncapReceiver} on IPv6 client packets, with {@code
 * BPF_PROG_TEST_RUN} on crafted frames as in {@link FlowForwarderTest}: an IPv6 TCP segment and UDP
 * datagram wrapped byte for byte as {@link EncapHeader6} specifies (outer IPv4, the fabric's
 * family), a direct entry redirecting the packet unchanged, the SYN rules, an extension header
 * passed and counted, decapsulation giving back the client's frame exactly, forged version 2
 * headers dropped and counted by reason. Also times the IPv6 paths next to IPv4's. Needs root.
 */
@Tag("lab")
class FlowForwarderIpv6Test {
  private static final Inet6Address CLIENT = ip6("2001:2::10");
  private static final Inet6Address VIP = ip6("2001:2::100");
  private static final Inet6Address SERVER6 = ip6("2001:2:0:1::2");
  private static final Inet4Address A_FABRIC = ip("198.18.1.1");
  private static final Inet4Address SERVER = ip("198.18.3.2");
  private static final int PORT = 4790;
  private static final long CHECK = 0x0123456789abcdefL;
  private static final Encap ENCAP = new Encap(A_FABRIC, PORT, CHECK);
  private static final int LO = 1;
  private static final int NEXT = -1, PASS = 0, DROP = 2, REDIRECT = 7;
  private static final byte[] DATA = "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private static final Flow6 TCP_FLOW = new Flow6(FlowForwarder.TCP, CLIENT, 47000, VIP, 80);
  private static final Flow6 UDP_FLOW = new Flow6(FlowForwarder.UDP, CLIENT, 40053, VIP, 5353);

  private static byte[] tcp(int flags) {
    return TestPackets.tcp6(CLIENT, 47000, VIP, 80, flags, DATA);
  }

  private static byte[] udp() {
    return TestPackets.udp6(CLIENT, 40053, VIP, 5353, DATA);
  }

  @Test
  void anEncapEntryWrapsAnIpv6TcpSegmentInIpv4ExactlyAsSpecified() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put6(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 0x0a0b0c0d);
      byte[] in = tcp(ACK | PSH);
      BpfProgram.TestRun run = f.testRun(in, 1);
      assertThat(run.verdict()).as("redirected").isEqualTo(REDIRECT);
      assertThat(run.packet()).isEqualTo(expectedEncap(in, 6, 0x0a0b0c0d, 47000, 80));
      assertThat(TcpSegment.internetChecksum(run.packet(), 14, 20, 0))
          .as("outer header checksum verifies")
          .isZero();
      assertThat(f.counters()).isEqualTo(new Counters(0, 1, 0, 0, 0));
      List<FlowForwarder.Entry6> entries = new ArrayList<>();
      f.forEach6(entries::add);
      assertThat(entries)
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.flow()).isEqualTo(TCP_FLOW);
                assertThat(e.server()).isEqualTo(SERVER);
                assertThat(e.flags()).isEqualTo(FlowForwarder.ENCAP);
                assertThat(e.connectionId()).isEqualTo(0x0a0b0c0d);
                assertThat(e.lastSeenNs()).as("stamped by the program").isPositive();
              });
      List<FlowForwarder.Entry> v4 = new ArrayList<>();
      f.forEach(v4::add);
      assertThat(v4).as("the IPv4 map").isEmpty();
    }
  }

  @Test
  void anIpv6UdpDatagramIsWrappedToo() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put6(UDP_FLOW, SERVER, FlowForwarder.ENCAP, 9);
      byte[] in = udp();
      BpfProgram.TestRun run = f.testRun(in, 1);
      assertThat(run.verdict()).isEqualTo(REDIRECT);
      assertThat(run.packet()).isEqualTo(expectedEncap(in, 17, 9, 40053, 5353));
    }
  }

  @Test
  void directEntriesMissesSynsAndExtensionHeadersAreHandledAsSpecified() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put6(TCP_FLOW, SERVER6, 0, 1);
      BpfProgram.TestRun direct = f.testRun(tcp(ACK), 1);
      assertThat(direct.verdict()).isEqualTo(REDIRECT);
      assertThat(direct.packet()).as("unchanged").isEqualTo(tcp(ACK));
      List<FlowForwarder.Entry6> entries = new ArrayList<>();
      f.forEach6(entries::add);
      assertThat(entries).singleElement().satisfies(e -> assertThat(e.server()).isEqualTo(SERVER6));
      // Another client port, UDP on the TCP flow's ports, an IPv4 packet with the same ports:
      // misses.
      assertThat(f.testRun(TestPackets.tcp6(CLIENT, 47001, VIP, 80, ACK, DATA), 1).verdict())
          .isEqualTo(NEXT);
      assertThat(f.testRun(TestPackets.udp6(CLIENT, 47000, VIP, 80, DATA), 1).verdict())
          .isEqualTo(NEXT);
      byte[] v4 = TestPackets.tcp(ip("198.18.0.10"), 47000, ip("198.18.0.100"), 80, ACK, DATA);
      assertThat(f.testRun(v4, 1).verdict()).isEqualTo(NEXT);
      // A SYN is never forwarded, and deletes only a CLOSING entry.
      assertThat(f.testRun(tcp(SYN), 1).verdict()).isEqualTo(NEXT);
      assertThat(entries(f)).isEqualTo(1);
      f.put6(TCP_FLOW, SERVER6, FlowForwarder.CLOSING, 1);
      assertThat(f.testRun(tcp(SYN | ACK), 1).verdict()).as("SYN+ACK forwarded").isEqualTo(7);
      assertThat(f.testRun(tcp(SYN), 1).verdict()).isEqualTo(NEXT);
      assertThat(entries(f)).as("the SYN deleted the closing entry").isZero();
      assertThat(f.testRun(tcp(ACK), 1).verdict()).isEqualTo(NEXT);
      assertThat(f.counters()).isEqualTo(new Counters(2, 0, 0, 1, 0));
      // An extension header (hop-by-hop, fragment, destination options) before the flow's TCP
      // header: not examined, passed to the stack, counted. ICMPv6 passes uncounted.
      f.put6(TCP_FLOW, SERVER6, 0, 1);
      for (int extension : new int[] {0, 44, 60}) {
        byte[] p = TestPackets.tcp6WithExtension(CLIENT, 47000, VIP, 80, extension);
        assertThat(f.testRun(p, 1).verdict()).isEqualTo(NEXT);
      }
      byte[] icmp = tcp(ACK);
      icmp[20] = 58;
      assertThat(f.testRun(icmp, 1).verdict()).isEqualTo(NEXT);
      // An MLD report's hop-by-hop header, to a multicast group: passed, not counted.
      byte[] mld = TestPackets.tcp6WithExtension(CLIENT, 47000, ip6("ff02::16"), 80, 0);
      assertThat(f.testRun(mld, 1).verdict()).isEqualTo(NEXT);
      assertThat(f.counters()).isEqualTo(new Counters(2, 0, 0, 1, 3));
      assertThat(f.remove6(TCP_FLOW)).isTrue();
      assertThat(f.remove6(TCP_FLOW)).isFalse();
    }
  }

  @Test
  void anEntrysServerMustMatchItsKind() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      assertThatThrownBy(() -> f.put6(TCP_FLOW, SERVER6, FlowForwarder.ENCAP, 1))
          .hasMessageContaining("IPv4 fabric address");
      assertThatThrownBy(() -> f.put6(TCP_FLOW, SERVER, 0, 1))
          .hasMessageContaining("IPv6 next hop");
    }
  }

  @Test
  void decapsulationGivesBackTheClientsIpv6Frame() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null);
        EncapReceiver r = EncapReceiver.load(PORT, CHECK, 0, null)) {
      f.put6(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 77);
      f.put6(UDP_FLOW, SERVER, FlowForwarder.ENCAP, 78);
      f.put(
          new Flow(FlowForwarder.TCP, ip("198.18.0.10"), 47000, ip("198.18.0.100"), 80),
          SERVER,
          FlowForwarder.ENCAP,
          79);
      byte[] v4 = TestPackets.tcp(ip("198.18.0.10"), 47000, ip("198.18.0.100"), 80, ACK, DATA);
      for (byte[] in : List.of(tcp(ACK | PSH), udp(), v4)) {
        byte[] wrapped = f.testRun(in, 1).packet();
        BpfProgram.TestRun run = r.testRun(wrapped, 1);
        assertThat(run.verdict()).isEqualTo(PASS);
        assertThat(run.packet()).as("EtherType, IPv6 header and all").isEqualTo(in);
      }
      assertThat(r.counters()).isEqualTo(new EncapReceiver.Counters(3, 0, 0, 0, 0));
      // The Java header's first datagram of a UDP flow is what the program unwraps too.
      EncapHeader6 header = new EncapHeader6(17, 78, CHECK, CLIENT, 40053, VIP, 5353);
      byte[] sent = f.testRun(udp(), 1).packet();
      byte[] fromJava = header.udpPayload(DATA);
      assertThat(Arrays.copyOfRange(sent, 42, sent.length))
          .as("header v2 + inner packet, hop limit and flow label aside")
          .hasSameSizeAs(fromJava);
      byte[] frame = Arrays.copyOf(sent, 42 + fromJava.length);
      System.arraycopy(fromJava, 0, frame, 42, fromJava.length);
      BpfProgram.TestRun run = r.testRun(frame, 1);
      assertThat(run.verdict()).isEqualTo(PASS);
      assertThat(Arrays.copyOfRange(run.packet(), 14 + 40, run.packet().length))
          .as("the UDP datagram the server's stack gets")
          .isEqualTo(Arrays.copyOfRange(udp(), 14 + 40, udp().length));
    }
  }

  @Test
  void forgedOrBrokenVersion2HeadersAreDroppedAndCounted() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null);
        EncapReceiver r = EncapReceiver.load(PORT, CHECK, 0, null);
        EncapReceiver other = EncapReceiver.load(PORT, CHECK + 1, 0, null)) {
      f.put6(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 77);
      byte[] good = f.testRun(tcp(ACK | PSH), 1).packet();
      assertThat(other.testRun(good, 1).verdict()).as("another farm's check").isEqualTo(DROP);
      assertThat(other.counters()).isEqualTo(new EncapReceiver.Counters(0, 0, 0, 1, 0));
      int header = 14 + 20 + 8;
      int inner = header + EncapHeader6.LENGTH;
      List<byte[]> malformed = new ArrayList<>();
      malformed.add(changed(good, header + 3, 28)); // length of a version 1 header
      malformed.add(changed(good, header + 39, 1)); // reserved word
      malformed.add(changed(good, inner, 0x45)); // inner packet not IPv6
      byte[] truncated = Arrays.copyOf(good, inner + 20);
      truncated[14 + 3] = (byte) (truncated.length - 14); // outer total length as sent
      malformed.add(truncated);
      List<byte[]> badReference = new ArrayList<>();
      badReference.add(changed(good, header + 33, good[header + 33] ^ 1)); // client port
      badReference.add(changed(good, header + 35, good[header + 35] ^ 1)); // VIP port
      badReference.add(changed(good, header + 31, good[header + 31] ^ 1)); // client address
      badReference.add(changed(good, header + 55, good[header + 55] ^ 1)); // VIP address
      badReference.add(changed(good, header + 1, 17)); // protocol
      badReference.add(changed(good, inner + 6, 0)); // an inner extension header
      byte[] badVersion = changed(good, header, 3);
      for (byte[] bad : malformed) assertThat(r.testRun(bad, 1).verdict()).isEqualTo(DROP);
      for (byte[] bad : badReference) assertThat(r.testRun(bad, 1).verdict()).isEqualTo(DROP);
      assertThat(r.testRun(badVersion, 1).verdict()).isEqualTo(DROP);
      assertThat(r.counters())
          .isEqualTo(new EncapReceiver.Counters(0, malformed.size(), 1, 0, badReference.size()));
      assertThat(r.testRun(good, 1).verdict()).as("the original still passes").isEqualTo(PASS);
    }
  }

  /**
   * Times the four paths in the kernel (BPF_PROG_TEST_RUN's clock, ns per run, fresh skb per run as
   * in {@link FlowForwarderTest}): IPv4 and IPv6, direct and encapsulated, 1400-byte TCP payloads.
   * Prints the figures; asserts only that every run took its path.
   */
  @Test
  void timesIpv6ForwardingNextToIpv4() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 1024, 0, null)) {
      Inet4Address client4 = ip("198.18.0.10");
      Inet4Address vip4 = ip("198.18.0.100");
      f.put(new Flow(FlowForwarder.TCP, client4, 47001, vip4, 80), SERVER, 0, 1);
      f.put(new Flow(FlowForwarder.TCP, client4, 47000, vip4, 80), SERVER, FlowForwarder.ENCAP, 2);
      f.put6(new Flow6(FlowForwarder.TCP, CLIENT, 47001, VIP, 80), SERVER6, 0, 3);
      f.put6(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 4);
      byte[] payload = new byte[1400];
      byte[][] packets = {
        TestPackets.tcp(client4, 47001, vip4, 80, ACK, payload),
        TestPackets.tcp(client4, 47000, vip4, 80, ACK, payload),
        TestPackets.tcp6(CLIENT, 47001, VIP, 80, ACK, payload),
        TestPackets.tcp6(CLIENT, 47000, VIP, 80, ACK, payload)
      };
      int runs = 20_000;
      long[] ns = new long[packets.length];
      for (int i = 0; i < 2_000; i++) for (byte[] p : packets) f.testRun(p, 1); // warm-up
      for (int i = 0; i < runs; i++) {
        for (int p = 0; p < packets.length; p++) ns[p] += f.testRun(packets[p], 1).nsPerRun();
      }
      System.out.printf(
          "PROG_TEST_RUN ns per run (1400-byte TCP payload, %d single runs each): IPv4 direct %.1f,"
              + " IPv4 encap %.1f, IPv6 direct %.1f, IPv6 encap %.1f%n",
          runs,
          (double) ns[0] / runs,
          (double) ns[1] / runs,
          (double) ns[2] / runs,
          (double) ns[3] / runs);
      Counters c = f.counters();
      assertThat(c.forwarded()).isEqualTo(2L * (runs + 2_000));
      assertThat(c.encapsulated()).isEqualTo(2L * (runs + 2_000));
      assertThat(c.encapFailed()).isZero();
    }
  }

  private static byte[] changed(byte[] packet, int at, int value) {
    byte[] p = packet.clone();
    p[at] = (byte) value;
    return p;
  }

  private static int entries(FlowForwarder f) throws LinuxException {
    int[] n = {0};
    f.forEach6(e -> n[0]++);
    return n[0];
  }

  /**
   * The specification of an IPv6 packet's encapsulation, built here without the program: the
   * frame's Ethernet addresses with EtherType IPv4, outer IPv4 (a's fabric address to the server,
   * TTL 64, DF, id 0, checksum), UDP (entropy source port, the encapsulation port, checksum 0), the
   * version 2 header, the original IPv6 packet.
   */
  private static byte[] expectedEncap(
      byte[] in, int protocol, int id, int clientPort, int vipPort) {
    int inner = in.length - 14;
    int overhead = FlowForwarder.OVERHEAD6;
    ByteBuffer b = ByteBuffer.allocate(in.length + overhead);
    b.put(in, 0, 12).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (overhead + inner));
    b.putShort((short) 0).putShort((short) 0x4000).put((byte) 64).put((byte) 17);
    b.putShort((short) 0).put(A_FABRIC.getAddress()).put(SERVER.getAddress());
    b.putShort((short) (0xc000 | (clientPort & 0x3fff))).putShort((short) PORT);
    b.putShort((short) (overhead - 20 + inner)).putShort((short) 0);
    b.put(new EncapHeader6(protocol, id, CHECK, CLIENT, clientPort, VIP, vipPort).toBytes());
    b.put(in, 14, inner);
    byte[] out = b.array();
    int sum = TcpSegment.internetChecksum(out, 14, 20, 0);
    out[24] = (byte) (sum >> 8);
    out[25] = (byte) sum;
    return out;
  }
}
