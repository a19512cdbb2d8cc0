package io.baton.dispatcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.Vip;
import io.baton.routing.BalanceKind;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.Pool;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ObjLongConsumer;
import org.junit.jupiter.api.Test;

class UdpFlowsTest {
  private static final Vip VIP = new Vip(ip("198.18.0.100"), 53);
  private static final Inet4Address S1 = ip("198.18.1.11");
  private static final Inet4Address S2 = ip("198.18.3.12");

  private final Map<UdpFlows.Flow, Inet4Address> kernel = new HashMap<>();
  private final Map<UdpFlows.Flow, Long> lastSeen = new HashMap<>();
  private final Set<UdpFlows.Flow> encapsulated = new HashSet<>();
  private final List<String> sent = new ArrayList<>();
  private final Set<String> down = new HashSet<>();
  private long now = 1_000_000_000L;

  private final UdpFlows.Table table =
      new UdpFlows.Table() {
        @Override
        public void put(UdpFlows.Flow flow, Inet4Address server, boolean encap, int id) {
          kernel.put(flow, server);
          if (encap) encapsulated.add(flow);
        }

        @Override
        public void remove(UdpFlows.Flow flow) {
          kernel.remove(flow);
          lastSeen.remove(flow);
        }

        @Override
        public void lastSeen(ObjLongConsumer<UdpFlows.Flow> each) {
          kernel.keySet().forEach(f -> each.accept(f, lastSeen.getOrDefault(f, 0L)));
        }
      };

  private final UdpFlows flows =
      new UdpFlows(
          table,
          (flow, server, id, datagram) ->
              sent.add(
                  flow.clientPort() + ">" + server.getHostAddress() + ":" + new String(datagram)),
          () -> now,
          Duration.ofSeconds(30),
          node -> !down.contains(node),
          ServerEligibility.ANY,
          S2::equals);

  private final Pool pool =
      Pool.create(
          "dns",
          BalanceKind.WEIGHTED_ROUND_ROBIN,
          List.of(member("s1", S1), member("s2", S2)),
          new LoadTable());

  @Test
  void aNewFlowIsAssignedInstalledAndItsFirstDatagramPassedOn() {
    var flow = new UdpFlows.Flow(ip("198.18.0.10"), 40000, VIP);
    assertThat(flows.datagram(flow, pool, "q1".getBytes())).isPresent();
    Inet4Address server = kernel.get(flow);
    assertThat(server).isIn(S1, S2);
    assertThat(sent).containsExactly("40000>" + server.getHostAddress() + ":q1");
    // A datagram that overtook the entry goes to the same server, with no new pick.
    flows.datagram(flow, pool, "q2".getBytes());
    assertThat(sent).last().isEqualTo("40000>" + server.getHostAddress() + ":q2");
    assertThat(flows.stats().assigned.sum()).isEqualTo(1);
    // The pool's encap member is installed encapsulated, the other not.
    assertThat(encapsulated.contains(flow)).isEqualTo(server.equals(S2));
  }

  @Test
  void flowsSpreadOverThePoolAndSkipServersThatAreDown() {
    Map<Inet4Address, Integer> per = new HashMap<>();
    for (int port = 40000; port < 40010; port++) {
      var flow = new UdpFlows.Flow(ip("198.18.0.10"), port, VIP);
      flows.datagram(flow, pool, new byte[] {1});
      per.merge(kernel.get(flow), 1, Integer::sum);
    }
    assertThat(per).containsOnlyKeys(S1, S2);
    down.add("s1");
    for (int port = 41000; port < 41010; port++) {
      var flow = new UdpFlows.Flow(ip("198.18.0.10"), port, VIP);
      flows.datagram(flow, pool, new byte[] {1});
      assertThat(kernel.get(flow)).isEqualTo(S2);
    }
    down.add("s2");
    var lost = new UdpFlows.Flow(ip("198.18.0.10"), 42000, VIP);
    assertThat(flows.datagram(lost, pool, new byte[] {1})).isEmpty();
    assertThat(kernel).doesNotContainKey(lost);
    assertThat(flows.stats().unavailable.sum()).isEqualTo(1);
  }

  @Test
  void idleFlowsEndButBusyOnesStay() throws Exception {
    var idle = new UdpFlows.Flow(ip("198.18.0.10"), 40000, VIP);
    var busy = new UdpFlows.Flow(ip("198.18.0.10"), 40001, VIP);
    flows.datagram(idle, pool, new byte[] {1});
    flows.datagram(busy, pool, new byte[] {1});
    now += Duration.ofSeconds(20).toNanos();
    lastSeen.put(busy, now); // the kernel forwarded one of busy's datagrams
    flows.sweep();
    assertThat(kernel).containsKeys(idle, busy);
    now += Duration.ofSeconds(11).toNanos();
    flows.sweep();
    assertThat(kernel).containsOnlyKeys(busy);
    assertThat(flows.stats().expired.sum()).isEqualTo(1);
    // An entry nobody assigned (an earlier process's) goes at the next sweep.
    var stray = new UdpFlows.Flow(ip("198.18.0.11"), 5000, VIP);
    kernel.put(stray, S1);
    flows.sweep();
    assertThat(kernel).doesNotContainKey(stray);
  }

  @Test
  void aLostServersFlowsArePickedAfreshOnTheirNextDatagram() {
    List<UdpFlows.Flow> all = new ArrayList<>();
    for (int port = 40000; port < 40006; port++) {
      var flow = new UdpFlows.Flow(ip("198.18.0.10"), port, VIP);
      flows.datagram(flow, pool, new byte[] {1});
      all.add(flow);
    }
    long onS1 = all.stream().filter(f -> S1.equals(kernel.get(f))).count();
    down.add("s1");
    assertThat(flows.serverLost("s1")).isEqualTo((int) onS1);
    for (var f : all) {
      if (!kernel.containsKey(f)) flows.datagram(f, pool, new byte[] {2});
      assertThat(kernel.get(f)).isEqualTo(S2);
    }
    assertThat(flows.perServer()).containsOnlyKeys("s2");
  }

  @Test
  void ipv6FlowsAreAssignedLikeIpv4Ones() throws Exception {
    Vip vip6 = new Vip(InetAddress.getByName("2001:2::100"), 53);
    var flow = new UdpFlows.Flow(InetAddress.getByName("2001:2::10"), 40000, vip6);
    assertThat(flows.datagram(flow, pool, "q".getBytes())).isPresent();
    assertThat(kernel.get(flow)).isIn(S1, S2);
    assertThat(flows.assignment(flow)).isPresent();
    assertThat(flow.toString()).isEqualTo("udp [2001:2::10]:40000->[2001:2::100]:53");
  }

  private static Member member(String node, Inet4Address fabric) {
    return new Member(node, new InetSocketAddress(fabric, 7400), fabric, 1, false);
  }

  private static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
