package io.baton.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.RoutedTopology;
import io.baton.linux.EncapHeader;
import io.baton.linux.EncapHeader6;
import io.baton.linux.EncapReceiver;
import io.baton.linux.FlowForwarder;
import io.baton.linux.FlowForwarder.Encap;
import io.baton.linux.FlowForwarder.Flow6;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * IPv6 clients through encapsulated forwarding (issue 13) with real traffic, in {@link
 * RoutedTopology#buildWithIpv6Front}: the client and the VIP speak IPv6, the fabric between a, the
 * router and b stays IPv4, so a's {@link FlowForwarder} wraps each IPv6 packet in IPv4 + UDP + a
 * version 2 header ({@link EncapHeader6}) and b's {@link EncapReceiver} unwraps it into an IPv6
 * packet for its stack; b answers from the VIP, routed back to the client.
 *
 * <ul>
 *   <li>{@link #anIpv6UdpFlowsThousandDatagramsCrossTheIpv4FabricAndForgeriesDoNot}: the first
 *       datagram sent by a from user space ({@link EncapHeader6#udpPayload} from a plain UDP socket
 *       on a's fabric address), then 1,000 datagrams of varied sizes through a's program, each
 *       compared byte for byte at b and its answer at the client; a datagram too long to wrap,
 *       dropped and counted; then forged version 2 headers from the router, counted by reason and
 *       never read by b's socket.
 *   <li>{@link #anIpv6TcpConnectionIsForwardedEncapsulatedAfterItsClientIsRepointedAtA}: the TCP
 *       path without a move (TCP_REPAIR is IPv4-only in main today): the client's route sends the
 *       handshake straight to b on the front segment; then a's map gets the connection's entry and
 *       the client's route is deleted, so its later packets reach a (which owns the VIP on front)
 *       and are forwarded, encapsulated, to b. 4 MiB each way, SHA-256 compared. The router cuts
 *       every GSO packet it forwards to b into segments (as in {@code EncapForwardingLabTest}), so
 *       the kernel's UDP-tunnel segmentation of IPv6 packets is exercised too.
 *   <li>{@link #aDirectIpv6EntrySendsThePacketUnchangedToItsIpv6NextHop}: a direct entry ({@code
 *       bpf_redirect_neigh} with an AF_INET6 next hop), for which this test alone gives a's and the
 *       router's fabric interfaces IPv6 addresses: the next hop is the router, which routes the
 *       unchanged packet on to b.
 * </ul>
 *
 * MTU: the veths are 1500 bytes and an IPv6 encapsulation adds 84, so the client may send at most
 * 1416-byte IPv6 packets: b's route to the client advertises MSS 1356 (route attribute {@code
 * advmss}, the same clamp a VIP's listener would set with TCP_MAXSEG); UDP payloads here stay under
 * 1416 - 48.
 */
@Tag("lab")
class EncapIpv6LabTest {
  private static final int PORT = 4790;
  private static final long FARM_CHECK = 0x6261746f6e2d3136L;
  private static final int MSS6 = 1500 - FlowForwarder.OVERHEAD6 - 40 - 20;
  private static final Inet4Address A_FABRIC = ForwardedFlows.ip(RoutedTopology.A_FABRIC_IP);
  private static final Inet4Address B_RACK = ForwardedFlows.ip(RoutedTopology.B_RACK_IP);
  private static final Inet6Address VIP = ip6(RoutedTopology.VIP6);
  private static final Inet6Address CLIENT = ip6(RoutedTopology.CLIENT_IP6);
  private static final int TIMEOUT_MS = (int) ForwardedFlows.LIMIT.toMillis();

  @Test
  void anIpv6UdpFlowsThousandDatagramsCrossTheIpv4FabricAndForgeriesDoNot() throws Exception {
    try (Lab lab = Lab.create("encap6-udp")) {
      RoutedTopology net = RoutedTopology.buildWithIpv6Front(lab);
      Host a = net.a();
      Host b = net.b();
      FlowForwarder forwarder = a.call(() -> attachForwarder());
      EncapReceiver receiver = b.call(() -> EncapReceiver.attach("rack", PORT, FARM_CHECK));
      DatagramSocket server = b.call(() -> bound(new InetSocketAddress(VIP, 5353)));
      DatagramSocket client = net.client().call(() -> bound(new InetSocketAddress(CLIENT, 40053)));
      try {
        client.connect(VIP, 5353);
        EncapHeader6 header =
            new EncapHeader6(EncapHeader.UDP, 6, FARM_CHECK, CLIENT, 40053, VIP, 5353);
        // The first datagram: a has it in user space and delivers it from its fabric address.
        a.call(() -> sendFrom(A_FABRIC, header.udpPayload(text("first"))));
        DatagramPacket first = receive(server);
        assertThat(text(first)).isEqualTo("first");
        assertThat(first.getSocketAddress()).isEqualTo(new InetSocketAddress(CLIENT, 40053));
        server.send(new DatagramPacket(text("answer to first"), 15, first.getSocketAddress()));
        assertThat(text(receive(client)))
            .as("b answers the client from the VIP, through the router")
            .isEqualTo("answer to first");
        // The later ones: a's program wraps them (IPv4 outer), the router, b's receiver.
        forwarder.put6(
            new Flow6(FlowForwarder.UDP, CLIENT, 40053, VIP, 5353), B_RACK, FlowForwarder.ENCAP, 6);
        Random random = new Random(6);
        int datagrams = 1_000;
        for (int i = 0; i < datagrams; i++) {
          byte[] data = new byte[1 + random.nextInt(1300)];
          random.nextBytes(data);
          client.send(new DatagramPacket(data, data.length));
          DatagramPacket got = receive(server);
          assertThat(Arrays.copyOfRange(got.getData(), 0, got.getLength()))
              .as("datagram %d at b", i)
              .isEqualTo(data);
          byte[] answer = reversed(data);
          server.send(new DatagramPacket(answer, answer.length, got.getSocketAddress()));
          DatagramPacket back = receive(client);
          assertThat(Arrays.copyOfRange(back.getData(), 0, back.getLength()))
              .as("answer %d at the client", i)
              .isEqualTo(answer);
        }
        assertThat(forwarder.counters())
            .isEqualTo(new FlowForwarder.Counters(0, datagrams, 0, 0, 0));
        assertThat(receiver.counters())
            .isEqualTo(new EncapReceiver.Counters(datagrams + 1, 0, 0, 0, 0));
        // A datagram that fills the client's 1500-byte MTU would be 1584 bytes once wrapped:
        // dropped and counted (bpf_check_mtu), as for IPv4.
        client.send(new DatagramPacket(new byte[1452], 1452));
        long refusedBy = System.nanoTime() + ForwardedFlows.LIMIT.toNanos();
        while (forwarder.counters().encapFailed() == 0 && System.nanoTime() < refusedBy) {
          Thread.onSpinWait();
        }
        assertThat(forwarder.counters().encapFailed()).as("too long to wrap").isEqualTo(1);
        // Forgeries from the router: another farm's check, a header naming another client port,
        // an unknown version, a version 1 header on the IPv6 packet. Each inner packet is a valid
        // datagram for b's socket.
        byte[] wrongCheck =
            new EncapHeader6(EncapHeader.UDP, 6, FARM_CHECK ^ 1, CLIENT, 40053, VIP, 5353)
                .udpPayload(text("forged check"));
        byte[] wrongReference = header.udpPayload(text("forged reference"));
        wrongReference[33] ^= 0x01; // the header's client port
        byte[] wrongVersion = header.udpPayload(text("forged version"));
        wrongVersion[0] = 3;
        byte[] version1 = header.udpPayload(text("forged version 1"));
        version1[0] = 1; // a version 1 header is 28 bytes: its length field says 56
        Inet4Address router = ForwardedFlows.ip(RoutedTopology.ROUTER_RACK_IP);
        for (byte[] forged : List.of(wrongCheck, wrongReference, wrongVersion, version1)) {
          net.router().call(() -> sendFrom(router, forged));
        }
        EncapReceiver.Counters expected = new EncapReceiver.Counters(datagrams + 1, 1, 1, 1, 1);
        long deadline = System.nanoTime() + ForwardedFlows.LIMIT.toNanos();
        while (!receiver.counters().equals(expected) && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
        assertThat(receiver.counters()).isEqualTo(expected);
        // The next datagram b's socket reads is a real one sent after them.
        client.send(new DatagramPacket(text("after the forgeries"), 19));
        assertThat(text(receive(server))).isEqualTo("after the forgeries");
      } finally {
        server.close();
        client.close();
        forwarder.close();
        receiver.close();
      }
    }
  }

  @Test
  void anIpv6TcpConnectionIsForwardedEncapsulatedAfterItsClientIsRepointedAtA() throws Exception {
    try (Lab lab = Lab.create("encap6-tcp");
        ExecutorService writers = Executors.newCachedThreadPool()) {
      RoutedTopology net = RoutedTopology.buildWithIpv6Front(lab);
      Host a = net.a();
      Host b = net.b();
      Host client = net.client();
      // b on the front segment for the handshake only: a /128 (no on-link route), and a client
      // route that sends the VIP's packets to it.
      b.execOrThrow("ip", "-6", "addr", "add", "2001:2::2/128", "dev", "front", "nodad");
      client.execOrThrow(
          "ip",
          "-6",
          "route",
          "add",
          RoutedTopology.VIP6 + "/128",
          "via",
          "2001:2::2",
          "dev",
          "front");
      b.execOrThrow(
          "ip",
          "-6",
          "route",
          "replace",
          "2001:2::/64",
          "via",
          RoutedTopology.ROUTER_RACK_IP6,
          "dev",
          "rack",
          "advmss",
          Integer.toString(MSS6));
      net.router().execOrThrow("ip", "link", "set", "dev", "rack", "gso_max_segs", "1");
      FlowForwarder forwarder = a.call(() -> attachForwarder());
      EncapReceiver receiver = b.call(() -> EncapReceiver.attach("rack", PORT, FARM_CHECK));
      ServerSocket listener = b.call(() -> listen(new InetSocketAddress(VIP, 80)));
      Socket clientSocket = null;
      Socket serverSocket = null;
      try {
        clientSocket = client.call(() -> connect(new InetSocketAddress(CLIENT, 47600)));
        serverSocket = listener.accept();
        serverSocket.setSoTimeout(TIMEOUT_MS);
        assertThat(serverSocket.getRemoteSocketAddress())
            .isEqualTo(new InetSocketAddress(CLIENT, 47600));
        roundTrip(clientSocket, serverSocket, "straight to b");
        assertThat(forwarder.counters().encapsulated()).as("nothing through a yet").isZero();

        forwarder.put6(
            new Flow6(FlowForwarder.TCP, CLIENT, 47600, VIP, 80), B_RACK, FlowForwarder.ENCAP, 16);
        client.execOrThrow("ip", "-6", "route", "del", RoutedTopology.VIP6 + "/128");
        roundTrip(clientSocket, serverSocket, "through a, encapsulated");
        long afterRoundTrip = forwarder.counters().encapsulated();
        assertThat(afterRoundTrip).as("the client's packets wrapped by a").isPositive();

        byte[] upload = random(4 << 20, 1);
        assertThat(transfer(writers, clientSocket, serverSocket, upload))
            .as("SHA-256 of what b read")
            .isEqualTo(sha256(upload));
        byte[] download = random(4 << 20, 2);
        assertThat(transfer(writers, serverSocket, clientSocket, download))
            .as("SHA-256 of what the client read")
            .isEqualTo(sha256(download));
        FlowForwarder.Counters sent = forwarder.counters();
        EncapReceiver.Counters got = receiver.counters();
        System.out.printf(
            "IPv6 TCP through a: %d packets encapsulated, %d segments decapsulated at b%n",
            sent.encapsulated(), got.decapsulated());
        assertThat(sent.encapsulated()).isGreaterThan(afterRoundTrip);
        assertThat(sent.encapFailed()).as("too long to wrap, or refused").isZero();
        assertThat(sent.forwarded()).as("nothing forwarded unchanged").isZero();
        assertThat(got.decapsulated()).as("every wrapped packet or segment").isGreaterThan(0);
        assertThat(got.malformed() + got.badCheck() + got.badReference() + got.badVersion())
            .as("b's drops")
            .isZero();
      } finally {
        if (clientSocket != null) clientSocket.close();
        if (serverSocket != null) serverSocket.close();
        listener.close();
        forwarder.close();
        receiver.close();
      }
    }
  }

  @Test
  void aDirectIpv6EntrySendsThePacketUnchangedToItsIpv6NextHop() throws Exception {
    try (Lab lab = Lab.create("encap6-direct")) {
      RoutedTopology net = RoutedTopology.buildWithIpv6Front(lab);
      Host a = net.a();
      Host b = net.b();
      a.execOrThrow("ip", "-6", "addr", "add", "2001:2:0:1::1/64", "dev", "fabric", "nodad");
      net.router()
          .execOrThrow("ip", "-6", "addr", "add", "2001:2:0:1::fe/64", "dev", "fabric", "nodad");
      net.router()
          .execOrThrow(
              "ip",
              "-6",
              "route",
              "add",
              RoutedTopology.VIP6 + "/128",
              "via",
              RoutedTopology.B_RACK_IP6,
              "dev",
              "rack");
      FlowForwarder forwarder = a.call(() -> attachForwarder());
      EncapReceiver receiver = b.call(() -> EncapReceiver.attach("rack", PORT, FARM_CHECK));
      DatagramSocket server = b.call(() -> bound(new InetSocketAddress(VIP, 5353)));
      DatagramSocket client = net.client().call(() -> bound(new InetSocketAddress(CLIENT, 40054)));
      try {
        client.connect(VIP, 5353);
        forwarder.put6(
            new Flow6(FlowForwarder.UDP, CLIENT, 40054, VIP, 5353), ip6("2001:2:0:1::fe"), 0, 8);
        for (int i = 0; i < 100; i++) {
          byte[] data = text("direct " + i);
          client.send(new DatagramPacket(data, data.length));
          DatagramPacket got = receive(server);
          assertThat(text(got)).isEqualTo("direct " + i);
          assertThat(got.getSocketAddress()).isEqualTo(new InetSocketAddress(CLIENT, 40054));
          server.send(new DatagramPacket(data, data.length, got.getSocketAddress()));
          assertThat(text(receive(client))).isEqualTo("direct " + i);
        }
        assertThat(forwarder.counters()).isEqualTo(new FlowForwarder.Counters(100, 0, 0, 0, 0));
        assertThat(receiver.counters().decapsulated()).as("nothing wrapped").isZero();
        List<FlowForwarder.Entry6> entries = new java.util.ArrayList<>();
        forwarder.forEach6(entries::add);
        assertThat(entries).singleElement().satisfies(e -> assertThat(e.lastSeenNs()).isPositive());
      } finally {
        server.close();
        client.close();
        forwarder.close();
        receiver.close();
      }
    }
  }

  private static FlowForwarder attachForwarder() throws Exception {
    return FlowForwarder.attach("front", "fabric", new Encap(A_FABRIC, PORT, FARM_CHECK), 1024);
  }

  private static ServerSocket listen(InetSocketAddress address) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(address, 4);
    s.setSoTimeout(TIMEOUT_MS);
    return s;
  }

  private static Socket connect(InetSocketAddress from) throws IOException {
    Socket s = new Socket();
    s.bind(from);
    s.connect(new InetSocketAddress(VIP, 80), TIMEOUT_MS);
    s.setSoTimeout(TIMEOUT_MS);
    return s;
  }

  /** One line each way, read back exactly. */
  private static void roundTrip(Socket client, Socket server, String what) throws IOException {
    byte[] ask = text("ping " + what + "\n");
    client.getOutputStream().write(ask);
    assertThat(readFully(server.getInputStream(), ask.length)).isEqualTo(ask);
    byte[] answer = text("pong " + what + "\n");
    server.getOutputStream().write(answer);
    assertThat(readFully(client.getInputStream(), answer.length)).isEqualTo(answer);
  }

  private static byte[] readFully(InputStream in, int length) throws IOException {
    byte[] b = in.readNBytes(length);
    if (b.length != length) throw new IOException("end of stream after " + b.length + " bytes");
    return b;
  }

  /**
   * Writes {@code data} into {@code from} on a writer thread while this thread reads as much from
   * {@code to}; returns the SHA-256 of what was read.
   */
  private static String transfer(ExecutorService writers, Socket from, Socket to, byte[] data)
      throws Exception {
    Future<?> writer =
        writers.submit(
            () -> {
              from.getOutputStream().write(data);
              return null;
            });
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    byte[] buffer = new byte[1 << 16];
    long read = 0;
    InputStream in = to.getInputStream();
    while (read < data.length) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, data.length - read));
      if (n < 0) throw new IOException("end of stream after " + read + " bytes");
      sha.update(buffer, 0, n);
      read += n;
    }
    writer.get(10, TimeUnit.SECONDS);
    return HexFormat.of().formatHex(sha.digest());
  }

  private static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  private static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] reversed(byte[] data) {
    byte[] r = new byte[data.length];
    for (int i = 0; i < data.length; i++) r[i] = data[data.length - 1 - i];
    return r;
  }

  private static DatagramSocket bound(InetSocketAddress address) throws IOException {
    DatagramSocket s = new DatagramSocket(address);
    s.setSoTimeout(TIMEOUT_MS);
    return s;
  }

  /**
   * Sends {@code payload} to b's encapsulation port from {@code source}, in the calling namespace.
   */
  private static Void sendFrom(Inet4Address source, byte[] payload) throws IOException {
    try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(source, 0))) {
      s.send(new DatagramPacket(payload, payload.length, new InetSocketAddress(B_RACK, PORT)));
    }
    return null;
  }

  private static DatagramPacket receive(DatagramSocket s) throws IOException {
    DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
    s.receive(p);
    return p;
  }

  private static byte[] text(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static String text(DatagramPacket p) {
    return new String(p.getData(), p.getOffset(), p.getLength(), StandardCharsets.US_ASCII);
  }

  private static Inet6Address ip6(String literal) {
    if (InetAddress.ofLiteral(literal) instanceof Inet6Address a) return a;
    throw new IllegalArgumentException("not IPv6: " + literal);
  }
}
