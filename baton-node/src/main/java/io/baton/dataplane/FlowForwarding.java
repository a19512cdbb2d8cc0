package io.baton.dataplane;

import io.baton.linux.FlowForwarder;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.function.ObjLongConsumer;

/**
 * The dispatcher's BPF flow map ({@link FlowForwarder}, attached to the front interface's ingress
 * before nftables): the later packets of UDP flows, and of TCP connections handed to servers whose
 * pool is forwarded {@code encap}, are looked up here and sent to their server, unchanged on the
 * fabric segment or wrapped in a UDP datagram with a Baton header to a server behind a router.
 * Everything it has no entry for goes on to the nftables forwarding table and the stack.
 *
 * <p>The program and its map live as long as this process holds them: during a dispatcher restart
 * these packets are dropped (TCP retransmits them; the new process rebuilds the TCP entries from
 * the nftables table it adopts, while UDP flows start afresh).
 *
 * <p>Thread-safe: each call holds this object's lock ({@link FlowForwarder} shares one scratch
 * buffer per map), and each change is one {@code bpf(2)} call; a full walk ({@link #udpLastSeen})
 * holds it for the walk.
 */
public final class FlowForwarding implements AutoCloseable {
  /** Flows the map holds at most: TCP encap connections and UDP flows together. */
  public static final int MAX_ENTRIES = 1 << 20;

  private final FlowForwarder forwarder;

  private FlowForwarding(FlowForwarder forwarder) {
    this.forwarder = forwarder;
  }

  /**
   * Attaches the program to {@code frontDevice}, sending through {@code fabricDevice}; encapsulated
   * packets leave from {@code fabricAddress} to each server's {@code encapPort}, carrying {@code
   * encapCheck}.
   */
  public static FlowForwarding attach(
      String frontDevice,
      String fabricDevice,
      Inet4Address fabricAddress,
      int encapPort,
      long encapCheck)
      throws LinuxException {
    return new FlowForwarding(
        FlowForwarder.attach(
            frontDevice,
            fabricDevice,
            new FlowForwarder.Encap(fabricAddress, encapPort, encapCheck),
            MAX_ENTRIES));
  }

  /** The BPF flow of {@code f}; the BPF forwarder is IPv4 only. */
  static FlowForwarder.Flow tcp(FlowKey f) {
    f.requireIpv4("the BPF flow forwarder (encapsulated forwarding)");
    return new FlowForwarder.Flow(
        FlowForwarder.TCP,
        (Inet4Address) f.clientIp(),
        f.clientPort(),
        (Inet4Address) f.localIp(),
        f.localPort());
  }

  static FlowForwarder.Flow udp(Inet4Address client, int clientPort, Vip vip) {
    if (!(vip.address() instanceof Inet4Address vip4)) {
      throw new IllegalArgumentException(
          "the BPF flow forwarder (UDP flows) handles IPv4 VIPs only, not " + vip);
    }
    return new FlowForwarder.Flow(FlowForwarder.UDP, client, clientPort, vip4, vip.port());
  }

  /**
   * Forwards {@code flow} (TCP) to {@code server}, encapsulated; {@code closing} after its close.
   */
  synchronized void putTcp(FlowKey flow, Inet4Address server, boolean closing, int connectionId)
      throws LinuxException {
    int flags = FlowForwarder.ENCAP | (closing ? FlowForwarder.CLOSING : 0);
    forwarder.put(tcp(flow), server, flags, connectionId);
  }

  synchronized boolean removeTcp(FlowKey flow) throws LinuxException {
    return forwarder.remove(tcp(flow));
  }

  /** Forwards the UDP flow {@code client} -> {@code vip} to {@code server}. */
  public synchronized void putUdp(
      Inet4Address client, int clientPort, Vip vip, Inet4Address server, boolean encap, int id)
      throws LinuxException {
    forwarder.put(udp(client, clientPort, vip), server, encap ? FlowForwarder.ENCAP : 0, id);
  }

  public synchronized boolean removeUdp(Inet4Address client, int clientPort, Vip vip)
      throws LinuxException {
    return forwarder.remove(udp(client, clientPort, vip));
  }

  /** A UDP flow the map holds: client, VIP. */
  public record UdpFlow(Inet4Address client, int clientPort, Vip vip) {}

  /**
   * Each UDP flow in the map with the time the kernel last forwarded one of its datagrams ({@code
   * bpf_ktime_get_ns}, CLOCK_MONOTONIC: {@link System#nanoTime} on Linux; 0 if none yet).
   */
  public synchronized void udpLastSeen(ObjLongConsumer<UdpFlow> each) throws LinuxException {
    forwarder.forEach(
        e -> {
          var f = e.flow();
          if (f.protocol() == FlowForwarder.UDP) {
            each.accept(
                new UdpFlow(f.client(), f.clientPort(), new Vip(f.vip(), f.vipPort())),
                e.lastSeenNs());
          }
        });
  }

  /** The program's counters. */
  public synchronized FlowForwarder.Counters counters() throws LinuxException {
    return forwarder.counters();
  }

  @Override
  public synchronized void close() {
    forwarder.close();
  }
}
