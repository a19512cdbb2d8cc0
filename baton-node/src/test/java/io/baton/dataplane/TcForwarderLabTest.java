package io.baton.dataplane;

import static io.baton.dataplane.ForwardedFlows.B_FABRIC;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.ForwardedFlows.Connection;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.TwoHostTopology;
import io.baton.linux.BpfHashMap;
import io.baton.linux.NfSetElements;
import io.baton.linux.TcForwarder;
import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.FlowKey;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The BPF forwarding prototype (issue 8's next step) with real TCP: a connection accepted on host a
 * is moved to b with TCP_REPAIR while a tc program on a's front interface forwards the client's
 * later packets to b by a BPF map entry, one {@code bpf(2)} call; no nftables forwarding table at
 * all. Bytes cross both ways afterwards; a second connection from another port (no entry) stays on
 * a, and a SYN is never forwarded.
 */
@Tag("lab")
class TcForwarderLabTest {
  @Test
  void aMovedConnectionsPacketsReachItsNewOwnerByTheBpfMap() throws Exception {
    try (Lab lab = Lab.create("tc-forward")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      Host a = hosts.a();
      dropFrozenOutput(a);
      BpfHashMap map = BpfHashMap.create(16, 4, 1024);
      TcForwarder forwarder = a.call(() -> TcForwarder.attach(map, "front", "fabric"));
      try {
        int listener = flows.listen(80);
        Connection moved =
            flows.moveToB(
                flows.connect(47000, 80, listener),
                flow -> map.put(key(flow), B_FABRIC.getAddress()));
        var fabric0 = a.interfaceStats("fabric");
        var front0 = a.interfaceStats("front");
        long aSegments0 = a.snmpCounter("Tcp", "OutSegs");
        flows.roundTrip(moved, hosts.b(), "after the move, through the BPF map");
        flows.roundTrip(moved, hosts.b(), "and again");
        var fabric1 = a.interfaceStats("fabric");
        var front1 = a.interfaceStats("front");
        long aSegments1 = a.snmpCounter("Tcp", "OutSegs");
        // The client's segments came in on a's front and left on its fabric, unchanged in size;
        // a's stack sent nothing to the client meanwhile (b answers it directly).
        assertThat(fabric1.txPackets() - fabric0.txPackets())
            .as("packets a forwarded to b")
            .isPositive();
        assertThat(fabric1.txBytes() - fabric0.txBytes())
            .as("bytes a forwarded")
            .isGreaterThanOrEqualTo(front1.rxBytes() - front0.rxBytes() - 2048);
        // Counted by a's TCP stack, not by its front interface: a fresh host keeps IPv6 on and
        // sends
        // its router solicitations and MLD reports in its first seconds (a run saw one leave a's
        // front during the round trips).
        assertThat(aSegments1 - aSegments0).as("TCP segments a's stack sent").isZero();
        // Another client port has no entry: its handshake and data stay with a.
        Connection local = flows.connect(47001, 80, listener);
        flows.roundTrip(local, a, "no entry: a's own connection");
        // A new connection on the moved one's 4-tuple would have to begin with a SYN: a answers it.
        assertThat(map.remove(key(moved.flow()))).isTrue();
      } finally {
        forwarder.close();
        map.close();
      }
    }
  }

  /**
   * Pinned, the attachment and the map outlive the process that made them (closing every descriptor
   * stands for its exit): the moved connection keeps flowing; a later opener takes the map up by
   * its pin, finds the entry, and removing the pinned link detaches the program.
   */
  @Test
  void pinnedForwardingOutlivesItsProcessAndIsTakenUpAgain() throws Exception {
    java.nio.file.Path bpffs = java.nio.file.Files.createTempDirectory("bt-bpffs");
    HostCommand.run("mount", "-t", "bpf", "bpf", bpffs.toString());
    try (Lab lab = Lab.create("tc-pinned")) {
      TwoHostTopology hosts = TwoHostTopology.build(lab);
      ForwardedFlows flows = new ForwardedFlows(hosts);
      Host a = hosts.a();
      dropFrozenOutput(a);
      java.nio.file.Path mapPin = bpffs.resolve("owner");
      java.nio.file.Path linkPin = bpffs.resolve("ingress");
      Connection moved;
      try (BpfHashMap map = BpfHashMap.create(16, 4, 1024);
          TcForwarder forwarder = a.call(() -> TcForwarder.attach(map, "front", "fabric"))) {
        int listener = flows.listen(80);
        moved =
            flows.moveToB(
                flows.connect(48000, 80, listener),
                flow -> map.put(key(flow), B_FABRIC.getAddress()));
        map.pin(mapPin);
        forwarder.pin(linkPin);
      }
      // No descriptor of the map or the program is left in this process.
      flows.roundTrip(moved, hosts.b(), "with nobody holding the forwarder");
      try (BpfHashMap again = BpfHashMap.openPinned(mapPin, 16, 4)) {
        assertThat(again.get(key(moved.flow())))
            .hasValueSatisfying(v -> assertThat(v).isEqualTo(B_FABRIC.getAddress()));
        assertThat(again.forEach((k, v) -> {})).isEqualTo(1);
      }
      TcForwarder.detachPinned(linkPin);
      java.nio.file.Files.delete(mapPin);
    } finally {
      HostCommand.run("umount", bpffs.toString());
      java.nio.file.Files.delete(bpffs);
    }
  }

  /**
   * Runs a host command in the test's own namespace (the bpf file system is per mount namespace).
   */
  private static final class HostCommand {
    static void run(String... command) throws Exception {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
      }
    }
  }

  /** The frozen socket's output drop (its mark), as the dispatcher's table has it. */
  private static void dropFrozenOutput(Host a) {
    a.execOrThrow(
        "nft",
        "add table netdev bt_mark; add chain netdev bt_mark egress { type filter hook egress"
            + " device front priority 0; }; add rule netdev bt_mark egress meta mark "
            + String.format("0x%08x", ConnectionExporter.FROZEN_MARK)
            + " drop");
  }

  private static byte[] key(FlowKey f) {
    return NfSetElements.fourTupleKey(
        (java.net.Inet4Address) f.clientIp(),
        f.clientPort(),
        (java.net.Inet4Address) f.localIp(),
        f.localPort());
  }
}
