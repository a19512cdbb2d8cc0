package io.baton.dataplane;

import io.baton.linux.FlowForwarder;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.function.ObjLongConsumer;

/**
 * The dispatcher's BPF flow map ({@link FlowForwarder}, attached to the front interface's ingress
 * before nftables): the later packets of TCP connections handed to servers and of UDP flows are
 * looked up here and sent to their server, unchanged on the fabric segment or, for pools forwarded
 * {@code encap}, wrapped in a UDP datagram with a Baton header to a server behind a router.
 * Everything it has no entry for goes on to the nftables forwarding table and the stack.
 *
 * <p>The program and its map live as long as this process holds them. During a dispatcher restart
 * the nftables table, which outlives the process, forwards the direct connections; the packets of
 * encapsulated ones are dropped (TCP retransmits them) until the new process has rebuilt their
 * entries from the table it adopts; UDP flows start afresh.
 *
 * <p>Thread-safe: each call holds this object's lock ({@link FlowForwarder} shares one scratch
 * buffer per map), and each change is one {@code bpf(2)} call; a full walk ({@link #udpLastSeen})
 * holds it for the walk.
 */
public final class FlowForwarding implements FlowMirror.TcpFlows, AutoCloseable {
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

  /**
   * Forwards {@code flow} (TCP, either family) to {@code server}: wrapped ({@code encap}; the
   * server's fabric address is IPv4, so an IPv6 packet is wrapped in IPv4 too) or unchanged to the
   * server's fabric address of the flow's family; {@code closing} after its close.
   */
  @Override
  public synchronized void putTcp(
      FlowKey flow, InetAddress server, boolean encap, boolean closing, int connectionId)
      throws LinuxException {
    int flags = (encap ? FlowForwarder.ENCAP : 0) | (closing ? FlowForwarder.CLOSING : 0);
    put(
        FlowForwarder.TCP,
        flow.clientIp(),
        flow.clientPort(),
        flow.localIp(),
        flow.localPort(),
        server,
        flags,
        connectionId);
  }

  @Override
  public synchronized boolean removeTcp(FlowKey flow) throws LinuxException {
    return remove(
        FlowForwarder.TCP, flow.clientIp(), flow.clientPort(), flow.localIp(), flow.localPort());
  }

  /**
   * Forwards the UDP flow {@code client} -> {@code vip} to {@code server}: wrapped to the server's
   * IPv4 fabric address, or unchanged to its fabric address of the flow's family.
   */
  public synchronized void putUdp(
      InetAddress client, int clientPort, Vip vip, InetAddress server, boolean encap, int id)
      throws LinuxException {
    put(
        FlowForwarder.UDP,
        client,
        clientPort,
        vip.address(),
        vip.port(),
        server,
        encap ? FlowForwarder.ENCAP : 0,
        id);
  }

  public synchronized boolean removeUdp(InetAddress client, int clientPort, Vip vip)
      throws LinuxException {
    return remove(FlowForwarder.UDP, client, clientPort, vip.address(), vip.port());
  }

  private void put(
      int protocol,
      InetAddress client,
      int clientPort,
      InetAddress vip,
      int vipPort,
      InetAddress server,
      int flags,
      int id)
      throws LinuxException {
    if (client instanceof Inet4Address c4 && vip instanceof Inet4Address v4) {
      if (!(server instanceof Inet4Address s4)) {
        throw new IllegalArgumentException(
            "an IPv4 flow forwards to an IPv4 server, not " + server.getHostAddress());
      }
      forwarder.put(new FlowForwarder.Flow(protocol, c4, clientPort, v4, vipPort), s4, flags, id);
    } else if (client instanceof Inet6Address c6 && vip instanceof Inet6Address v6) {
      forwarder.put6(
          new FlowForwarder.Flow6(protocol, c6, clientPort, v6, vipPort), server, flags, id);
    } else {
      throw new IllegalArgumentException("client and VIP of one flow are of one family");
    }
  }

  private boolean remove(
      int protocol, InetAddress client, int clientPort, InetAddress vip, int vipPort)
      throws LinuxException {
    if (client instanceof Inet4Address c4 && vip instanceof Inet4Address v4) {
      return forwarder.remove(new FlowForwarder.Flow(protocol, c4, clientPort, v4, vipPort));
    }
    return forwarder.remove6(
        new FlowForwarder.Flow6(
            protocol, (Inet6Address) client, clientPort, (Inet6Address) vip, vipPort));
  }

  /** A UDP flow the map holds: client, VIP. */
  public record UdpFlow(InetAddress client, int clientPort, Vip vip) {}

  /**
   * Each UDP flow in the maps (IPv4 and IPv6) with the time the kernel last forwarded one of its
   * datagrams ({@code bpf_ktime_get_ns}, CLOCK_MONOTONIC: {@link System#nanoTime} on Linux; 0 if
   * none yet).
   */
  public synchronized void udpLastSeen(ObjLongConsumer<UdpFlow> each) throws LinuxException {
    forwarder.forEach(
        e -> {
          var f = e.flow();
          udp(f.protocol(), f.client(), f.clientPort(), f.vip(), f.vipPort(), e.lastSeenNs(), each);
        });
    forwarder.forEach6(
        e -> {
          var f = e.flow();
          udp(f.protocol(), f.client(), f.clientPort(), f.vip(), f.vipPort(), e.lastSeenNs(), each);
        });
  }

  /**
   * Gives {@code each} the flow if it is UDP (the maps hold the TCP entries of encap pools too).
   */
  private static void udp(
      int protocol,
      InetAddress client,
      int clientPort,
      InetAddress vip,
      int vipPort,
      long lastSeenNs,
      ObjLongConsumer<UdpFlow> each) {
    if (protocol == FlowForwarder.UDP) {
      each.accept(new UdpFlow(client, clientPort, new Vip(vip, vipPort)), lastSeenNs);
    }
  }

  /** Each IPv4 TCP flow the map holds (a full walk, for tests and tools). */
  public synchronized void forEachTcp(java.util.function.Consumer<FlowForwarder.Flow> each)
      throws LinuxException {
    forwarder.forEach(
        e -> {
          if (e.flow().protocol() == FlowForwarder.TCP) each.accept(e.flow());
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
