package io.baton.linux;

import static io.baton.linux.TestPackets.ACK;
import static io.baton.linux.TestPackets.PSH;
import static io.baton.linux.TestPackets.SYN;
import static io.baton.linux.TestPackets.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.FlowForwarder.Counters;
import io.baton.linux.FlowForwarder.Encap;
import io.baton.linux.FlowForwarder.Flow;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link FlowForwarder} and {@link EncapReceiver} in this kernel, on crafted packets run through
 * the loaded programs with {@code BPF_PROG_TEST_RUN}: the verifier takes both; the encapsulation is
 * byte for byte what the header specification says; decapsulating it gives back the client's
 * packet; forged or broken encapsulations are dropped and counted by reason. Also times both
 * forwarding paths (ns per run, printed). Needs root for {@code bpf(2)}, hence the tag.
 */
@Tag("lab")
class FlowForwarderTest {
  private static final Inet4Address CLIENT = ip("198.18.0.10");
  private static final Inet4Address VIP = ip("198.18.0.100");
  private static final Inet4Address A_FABRIC = ip("198.18.1.1");
  private static final Inet4Address SERVER = ip("198.18.3.2");
  private static final int PORT = 4790;
  private static final long CHECK = 0x0123456789abcdefL;
  private static final Encap ENCAP = new Encap(A_FABRIC, PORT, CHECK);
  private static final int LO = 1;
  private static final int NEXT = -1, PASS = 0, DROP = 2, REDIRECT = 7;
  private static final byte[] DATA = "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private static final Flow TCP_FLOW = new Flow(FlowForwarder.TCP, CLIENT, 47000, VIP, 80);
  private static final Flow UDP_FLOW = new Flow(FlowForwarder.UDP, CLIENT, 40053, VIP, 5353);

  private static byte[] tcp(int flags) {
    return TestPackets.tcp(CLIENT, 47000, VIP, 80, flags, DATA);
  }

  @Test
  void anEncapEntryWrapsThePacketExactlyAsSpecified() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 0x0a0b0c0d);
      byte[] in = tcp(ACK | PSH);
      BpfProgram.TestRun run = f.testRun(in, 1);
      assertThat(run.verdict()).as("redirected").isEqualTo(REDIRECT);
      assertThat(run.packet()).isEqualTo(expectedEncap(in, 6, 0x0a0b0c0d, 47000, 80));
      assertThat(TcpSegment.internetChecksum(run.packet(), 14, 20, 0))
          .as("outer header checksum verifies")
          .isZero();
      assertThat(f.counters()).isEqualTo(new Counters(0, 1, 0, 0, 0));
      List<FlowForwarder.Entry> entries = new ArrayList<>();
      f.forEach(entries::add);
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
    }
  }

  @Test
  void udpFlowsAreWrappedToo() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put(UDP_FLOW, SERVER, FlowForwarder.ENCAP, 9);
      byte[] in = TestPackets.udp(CLIENT, 40053, VIP, 5353, DATA);
      BpfProgram.TestRun run = f.testRun(in, 1);
      assertThat(run.verdict()).isEqualTo(REDIRECT);
      assertThat(run.packet()).isEqualTo(expectedEncap(in, 17, 9, 40053, 5353));
    }
  }

  @Test
  void directEntriesMissesAndSynsAreHandledAsSpecified() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null)) {
      f.put(TCP_FLOW, SERVER, 0, 1);
      BpfProgram.TestRun direct = f.testRun(tcp(ACK), 1);
      assertThat(direct.verdict()).isEqualTo(REDIRECT);
      assertThat(direct.packet()).as("unchanged").isEqualTo(tcp(ACK));
      // No entry for another client port; a UDP packet on the TCP flow's ports is another flow.
      byte[] other = TestPackets.tcp(CLIENT, 47001, VIP, 80, ACK, DATA);
      assertThat(f.testRun(other, 1).verdict()).isEqualTo(NEXT);
      byte[] udp = TestPackets.udp(CLIENT, 47000, VIP, 80, DATA);
      assertThat(f.testRun(udp, 1).verdict()).isEqualTo(NEXT);
      // A SYN is never forwarded, and deletes only a CLOSING entry.
      assertThat(f.testRun(tcp(SYN), 1).verdict()).isEqualTo(NEXT);
      assertThat(entries(f)).isEqualTo(1);
      f.put(TCP_FLOW, SERVER, FlowForwarder.CLOSING, 1);
      assertThat(f.testRun(tcp(SYN | ACK), 1).verdict()).as("SYN+ACK forwarded").isEqualTo(7);
      assertThat(f.testRun(tcp(SYN), 1).verdict()).isEqualTo(NEXT);
      assertThat(entries(f)).as("the SYN deleted the closing entry").isZero();
      assertThat(f.testRun(tcp(ACK), 1).verdict()).isEqualTo(NEXT);
      assertThat(f.counters()).isEqualTo(new Counters(2, 0, 0, 1, 0));
      // Not IPv4 at all, or a later fragment: passed.
      byte[] arp = tcp(ACK);
      arp[12] = 0x08;
      arp[13] = 0x06;
      f.put(TCP_FLOW, SERVER, 0, 1);
      assertThat(f.testRun(arp, 1).verdict()).isEqualTo(NEXT);
      byte[] fragment = tcp(ACK);
      fragment[21] = 0x10; // offset 16 * 8 bytes
      assertThat(f.testRun(fragment, 1).verdict()).isEqualTo(NEXT);
      assertThat(f.remove(TCP_FLOW)).isTrue();
      assertThat(f.remove(TCP_FLOW)).isFalse();
    }
  }

  @Test
  void decapsulationGivesBackTheClientsPacket() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null);
        EncapReceiver r = EncapReceiver.load(PORT, CHECK, 0, null)) {
      f.put(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 77);
      f.put(UDP_FLOW, SERVER, FlowForwarder.ENCAP, 78);
      for (byte[] in : List.of(tcp(ACK | PSH), TestPackets.udp(CLIENT, 40053, VIP, 5353, DATA))) {
        byte[] wrapped = f.testRun(in, 1).packet();
        BpfProgram.TestRun run = r.testRun(wrapped, 1);
        assertThat(run.verdict()).isEqualTo(PASS);
        assertThat(run.packet()).isEqualTo(in);
      }
      // Not to the encapsulation port, or not UDP: untouched.
      byte[] plain = TestPackets.udp(A_FABRIC, 40000, SERVER, PORT + 1, DATA);
      assertThat(r.testRun(plain, 1).verdict()).isEqualTo(NEXT);
      assertThat(r.testRun(tcp(ACK), 1).verdict()).isEqualTo(NEXT);
      assertThat(r.counters()).isEqualTo(new EncapReceiver.Counters(2, 0, 0, 0, 0));
    }
  }

  @Test
  void forgedOrBrokenEncapsulationsAreDroppedAndCounted() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 64, 0, null);
        EncapReceiver r = EncapReceiver.load(PORT, CHECK, 0, null);
        EncapReceiver other = EncapReceiver.load(PORT, CHECK + 1, 0, null)) {
      f.put(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 77);
      byte[] good = f.testRun(tcp(ACK | PSH), 1).packet();
      assertThat(other.testRun(good, 1).verdict()).as("another farm's check").isEqualTo(DROP);
      assertThat(other.counters()).isEqualTo(new EncapReceiver.Counters(0, 0, 0, 1, 0));
      int header = 14 + 20 + 8;
      byte[] version = good.clone();
      version[header] = 3; // 2 is the IPv6 header's (FlowForwarderIpv6Test)
      byte[] reference = good.clone();
      reference[header + 21] ^= 1; // the client port the header names
      byte[] protocol = good.clone();
      protocol[header + 1] = 17;
      byte[] length = good.clone();
      length[header + 3] = 24;
      byte[] truncated = Arrays.copyOf(good, 14 + 20 + 8 + 20);
      truncated[14 + 3] = (byte) (truncated.length - 14); // outer total length as sent
      for (byte[] bad : List.of(version, reference, protocol, length, truncated)) {
        assertThat(r.testRun(bad, 1).verdict()).isEqualTo(DROP);
      }
      assertThat(r.counters()).isEqualTo(new EncapReceiver.Counters(0, 2, 1, 0, 2));
    }
  }

  /**
   * Times both paths in the kernel (BPF_PROG_TEST_RUN's own clock, ns per run): a direct entry's
   * lookup and redirect against an encapsulation (lookup, adjust_room, 56 bytes written, redirect).
   * Every encapsulation run gets a fresh skb (repeat 1: a repeated run would see its own output);
   * the direct path is also timed with repeat. Prints the figures; asserts only that both ran.
   */
  @Test
  void timesDirectAndEncapsulatedForwarding() throws Exception {
    try (FlowForwarder f = FlowForwarder.load(LO, ENCAP, 1024, 0, null)) {
      Flow direct = new Flow(FlowForwarder.TCP, CLIENT, 47001, VIP, 80);
      f.put(direct, SERVER, 0, 1);
      f.put(TCP_FLOW, SERVER, FlowForwarder.ENCAP, 2);
      byte[] directPacket = TestPackets.tcp(CLIENT, 47001, VIP, 80, ACK, new byte[1400]);
      byte[] encapPacket = TestPackets.tcp(CLIENT, 47000, VIP, 80, ACK, new byte[1400]);
      int runs = 20_000;
      long directNs = 0, encapNs = 0;
      for (int i = 0; i < 2_000; i++) { // warm-up
        f.testRun(directPacket, 1);
        f.testRun(encapPacket, 1);
      }
      for (int i = 0; i < runs; i++) {
        directNs += f.testRun(directPacket, 1).nsPerRun();
        encapNs += f.testRun(encapPacket, 1).nsPerRun();
      }
      long repeated = f.testRun(directPacket, 1_000_000).nsPerRun();
      System.out.printf(
          "PROG_TEST_RUN ns per run (1400-byte TCP payload, %d single runs each): direct %.1f,"
              + " encap %.1f; direct with repeat 1000000: %d%n",
          runs, (double) directNs / runs, (double) encapNs / runs, repeated);
      assertThat(f.counters().forwarded()).isGreaterThan(runs);
      assertThat(f.counters().encapsulated()).isEqualTo(runs + 2_000);
    }
  }

  private static int entries(FlowForwarder f) throws LinuxException {
    int[] n = {0};
    f.forEach(e -> n[0]++);
    return n[0];
  }

  /**
   * The specification of an encapsulation, built here without the program: the frame's Ethernet
   * header, outer IPv4 (a's fabric address to the server, TTL 64, DF, id 0, checksum), UDP (entropy
   * source port, the encapsulation port, checksum 0), the Baton header, the original IPv4 packet.
   */
  private static byte[] expectedEncap(
      byte[] in, int protocol, int id, int clientPort, int vipPort) {
    int inner = in.length - 14;
    ByteBuffer b = ByteBuffer.allocate(in.length + FlowForwarder.OVERHEAD);
    b.put(in, 0, 14);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + 28 + inner));
    b.putShort((short) 0).putShort((short) 0x4000).put((byte) 64).put((byte) 17);
    b.putShort((short) 0).put(A_FABRIC.getAddress()).put(SERVER.getAddress());
    b.putShort((short) (0xc000 | (clientPort & 0x3fff))).putShort((short) PORT);
    b.putShort((short) (8 + 28 + inner)).putShort((short) 0);
    b.put(new EncapHeader(protocol, id, CHECK, CLIENT, clientPort, VIP, vipPort).toBytes());
    b.put(in, 14, inner);
    byte[] out = b.array();
    int sum = TcpSegment.internetChecksum(out, 14, 20, 0);
    out[24] = (byte) (sum >> 8);
    out[25] = (byte) sum;
    return out;
  }
}
