package io.baton.dispatcher;

import io.baton.dataplane.FlowForwarding;
import io.baton.linux.EncapHeader;
import io.baton.linux.LinuxException;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ObjLongConsumer;

/**
 * {@link UdpFlows}' kernel parts: the flow entries in the BPF flow map, and the first datagram of
 * each flow sent to its server from the dispatcher's fabric address, encapsulated exactly as the
 * kernel wraps the later ones (a Baton header, then the client's IPv4/UDP packet), so the server's
 * decapsulation delivers it to the VIP with the client as source.
 *
 * <p>Thread-safe.
 */
final class KernelUdpFlows implements UdpFlows.Table, UdpFlows.Sender, AutoCloseable {
  private final FlowForwarding forwarding;
  private final DatagramChannel fabric;
  private final int encapPort;
  private final long encapCheck;
  final LongAdder sendFailures = new LongAdder();

  KernelUdpFlows(
      FlowForwarding forwarding, Inet4Address fabricAddress, int encapPort, long encapCheck)
      throws IOException {
    this.forwarding = forwarding;
    this.encapPort = encapPort;
    this.encapCheck = encapCheck;
    this.fabric = DatagramChannel.open(java.net.StandardProtocolFamily.INET);
    fabric.bind(new InetSocketAddress(fabricAddress, 0));
    fabric.configureBlocking(false);
  }

  @Override
  public void put(UdpFlows.Flow flow, Inet4Address server, boolean encap, int connectionId)
      throws LinuxException {
    forwarding.putUdp(flow.client(), flow.clientPort(), flow.vip(), server, encap, connectionId);
  }

  @Override
  public void remove(UdpFlows.Flow flow) throws LinuxException {
    forwarding.removeUdp(flow.client(), flow.clientPort(), flow.vip());
  }

  @Override
  public void lastSeen(ObjLongConsumer<UdpFlows.Flow> each) throws LinuxException {
    forwarding.udpLastSeen(
        (f, ns) -> each.accept(new UdpFlows.Flow(f.client(), f.clientPort(), f.vip()), ns));
  }

  @Override
  public void send(UdpFlows.Flow flow, Inet4Address server, int connectionId, byte[] datagram) {
    byte[] payload =
        flow.client() instanceof java.net.Inet6Address c6
            ? new io.baton.linux.EncapHeader6(
                    EncapHeader.UDP,
                    connectionId,
                    encapCheck,
                    c6,
                    flow.clientPort(),
                    (java.net.Inet6Address) flow.vip().address(),
                    flow.vip().port())
                .udpPayload(datagram)
            : new EncapHeader(
                    EncapHeader.UDP,
                    connectionId,
                    encapCheck,
                    (Inet4Address) flow.client(),
                    flow.clientPort(),
                    (Inet4Address) flow.vip().address(),
                    flow.vip().port())
                .udpPayload(datagram);
    try {
      // Non-blocking: a full socket buffer drops this datagram, as the network might have.
      if (fabric.send(ByteBuffer.wrap(payload), new InetSocketAddress(server, encapPort)) == 0) {
        sendFailures.increment();
      }
    } catch (IOException e) {
      sendFailures.increment();
    }
  }

  @Override
  public void close() throws IOException {
    fabric.close();
  }
}
