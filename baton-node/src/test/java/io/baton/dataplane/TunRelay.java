package io.baton.dataplane;

import io.baton.lab.Host;
import io.baton.linux.EncapHeader;
import io.baton.linux.Sockets;
import io.baton.linux.Tun;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The user-space alternative to {@link io.baton.linux.FlowForwarder}'s encapsulation, for a
 * measurement: on the dispatcher host, a steered flow's packets are routed (by a firewall mark,
 * ahead of local delivery) into a TUN device; a thread reads each one (one read(2)), puts the Baton
 * header in front and sends it to the server's encapsulation port from a UDP socket (one send(2)).
 * One flow, one header; the server's {@link io.baton.linux.EncapReceiver} unwraps it. Turns IPv4
 * forwarding on in the host. Closed by the test; the lab removes the rest.
 */
final class TunRelay implements AutoCloseable {
  private static final String MARK = "0x13";

  private final Host host;
  private final Tun.Device tun;
  private final DatagramChannel out;
  private final byte[] header;
  private final AtomicLong relayed = new AtomicLong();
  private final Thread thread;
  private volatile boolean stop;
  private volatile Exception failure;

  private TunRelay(Host host, Tun.Device tun, DatagramChannel out, byte[] header) {
    this.host = host;
    this.tun = tun;
    this.out = out;
    this.header = header;
    this.thread = Thread.ofPlatform().name("tun-relay").daemon().unstarted(this::run);
  }

  /**
   * Sets up the device, routing and socket in {@code host} and starts relaying to {@code
   * server}:{@code port} from {@code source}, every packet with {@code header}.
   */
  static TunRelay start(
      Host host, EncapHeader header, Inet4Address source, Inet4Address server, int port)
      throws Exception {
    host.sysctl("net.ipv4.ip_forward", "1");
    Tun.Device tun = host.call(() -> Tun.open("relay"));
    host.execOrThrow("ip", "link", "set", "dev", "relay", "up");
    host.execOrThrow("ip", "route", "add", "default", "dev", "relay", "table", "100");
    host.execOrThrow("ip", "rule", "add", "fwmark", MARK, "lookup", "100", "pref", "10");
    // The local table's rule (preference 0) would deliver the VIP's packets before the mark's.
    host.execOrThrow("ip", "rule", "del", "pref", "0");
    host.execOrThrow("ip", "rule", "add", "lookup", "local", "pref", "20");
    DatagramChannel out =
        host.call(
            () -> {
              DatagramChannel c = DatagramChannel.open();
              c.bind(new InetSocketAddress(source, 0));
              c.connect(new InetSocketAddress(server, port));
              return c;
            });
    TunRelay relay = new TunRelay(host, tun, out, header.toBytes());
    relay.thread.start();
    return relay;
  }

  /** Marks {@code flow}'s packets from the client: from now on they go through the relay. */
  void steer(FlowKey flow) {
    host.execOrThrow(
        "nft",
        "add table ip bt_tun; add chain ip bt_tun pre { type filter hook prerouting priority"
            + " -150; }; add rule ip bt_tun pre ip saddr "
            + flow.clientIp().getHostAddress()
            + " tcp sport "
            + flow.clientPort()
            + " ip daddr "
            + flow.localIp().getHostAddress()
            + " tcp dport "
            + flow.localPort()
            + " meta mark set "
            + MARK);
  }

  /** Packets relayed so far. */
  long relayed() throws Exception {
    if (failure != null) throw failure;
    return relayed.get();
  }

  private void run() {
    byte[] packet = new byte[Tun.MAX_PACKET_BYTES];
    ByteBuffer datagram = ByteBuffer.allocateDirect(EncapHeader.LENGTH + Tun.MAX_PACKET_BYTES);
    try {
      while (!stop) {
        int n = Tun.read(tun.fd(), packet);
        if (n < 0) {
          Sockets.poll(tun.fd(), Sockets.POLLIN, 50);
          continue;
        }
        datagram.clear();
        datagram.put(header).put(packet, 0, n).flip();
        out.write(datagram);
        relayed.incrementAndGet();
      }
    } catch (Exception e) {
      failure = e;
    }
  }

  @Override
  public void close() throws java.io.IOException {
    stop = true;
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    out.close();
    tun.close();
  }
}
