package io.baton.dataplane;

import static io.baton.dataplane.ForwardedFlows.VIP;
import static io.baton.dataplane.ForwardedFlows.dispatcherHost;
import static io.baton.dataplane.ForwardedFlows.flow;
import static io.baton.dataplane.ForwardedFlows.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The forwarding table's ruleset and element bookkeeping against nftables in a lab namespace: the
 * shape the kernel holds, adoption of a table of the same shape, replacement of another, and
 * changes that repair a kernel map that is not what the caller believed. Packets through the table
 * are tested in {@code ForwardingServiceLabTest}.
 */
@Tag("lab")
class DirectForwardingTableLabTest {
  private static final String TABLE = "baton_fwd_table_test";
  private static final List<Vip> VIPS = List.of(new Vip(VIP, 80), new Vip(VIP, 443));
  private static final Inet4Address S1 = ip("198.18.1.11");
  private static final Inet4Address S2 = ip("198.18.1.12");

  @Test
  void theRulesetKeysOnTheWholeConnectionNeverForwardsASynAndNeverExpiresAnEntry()
      throws Exception {
    try (Lab lab = Lab.create("fwd-table")) {
      Host d = dispatcherHost(lab);
      d.call(
          () -> {
            try (DirectForwardingTable t =
                DirectForwardingTable.create(TABLE, "front", "fabric", VIPS)) {
              t.freezeAndForward(flow(40001, 443), S1);
              t.freezeAndForward(flow(40001, 80), S2); // same client port, other VIP port
            }
            return null;
          });
      String listed = d.execOrThrow("nft", "list", "table", "netdev", TABLE).stdout();
      assertThat(listed)
          .contains("comment \"" + DirectForwardingTable.FORMAT + " ")
          // nft prints "tcp flags & (syn | ack) != syn" in its own short form.
          .contains(
              "ip daddr . tcp dport @vips tcp flags != syn / syn,ack tcp sport & 63 vmap { 0 : goto forward_0,")
          .contains(
              "ip saddr . tcp sport @vips ip daddr . tcp dport . ip saddr . tcp sport @frozen drop");
      // 40001 & 63 = 1: both connections live in shard 1, each under its own 4-tuple.
      String shard = d.execOrThrow("nft", "list", "map", "netdev", TABLE, "owner_1").stdout();
      assertThat(shard)
          .contains("type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr")
          .contains("198.18.0.10 . 40001 . 198.18.0.100 . 443 : 198.18.1.11")
          .contains("198.18.0.10 . 40001 . 198.18.0.100 . 80 : 198.18.1.12")
          .doesNotContain("timeout")
          .doesNotContain("expires");
      assertThat(d.execOrThrow("nft", "list", "set", "netdev", TABLE, "frozen").stdout())
          .contains("timeout 1m")
          .contains("198.18.0.10 . 40001 . 198.18.0.100 . 443");
      assertThat(d.execOrThrow("nft", "list", "chain", "netdev", TABLE, "forward_1").stdout())
          .contains(
              "fwd ip to ip saddr . tcp sport . ip daddr . tcp dport map @owner_1 device \"fabric\"");
    }
  }

  /**
   * IPv6 VIPs get the table's ip6 part: entries forward to IPv6 server addresses, are adopted by a
   * later process, carried over when the VIPs change, and an IPv4-only table stays as it was.
   */
  @Test
  void ipv6EntriesAreAdoptedAndCarriedOverLikeIpv4Ones() throws Exception {
    java.net.InetAddress vip6 = java.net.InetAddress.ofLiteral("2001:2::100");
    java.net.InetAddress server6 = java.net.InetAddress.ofLiteral("2001:2:0:1::11");
    List<Vip> dual = List.of(new Vip(VIP, 80), new Vip(vip6, 80), new Vip(vip6, 443));
    try (Lab lab = Lab.create("fwd-table-ip6")) {
      Host d = dispatcherHost(lab);
      d.call(
          () -> {
            DirectForwardingTable.Opened first =
                DirectForwardingTable.open(TABLE, "front", "fabric", dual);
            for (int port = 40000; port < 40100; port++) {
              first.table().freezeAndForward(flow6(vip6, port, 80), server6);
              first.table().freezeAndForward(flow(port, 80), S1);
            }
            for (int port = 41000; port < 41010; port++)
              first.table().freezeAndForward(flow6(vip6, port, 443), server6);
            assertThat(first.table().frozenCount()).isEqualTo(210);
            // An IPv6 flow to an IPv4 server is forwarded wrapped, by the BPF flow map alone: no
            // element here (it is not adopted below); an IPv4 flow cannot go to an IPv6 server.
            first.table().freezeAndForward(flow6(vip6, 1, 80), S1);
            assertThat(first.table().size()).isEqualTo(210);
            first.table().apply(List.of(new DirectForwardingTable.Unforward(flow6(vip6, 1, 80))));
            assertThat(first.table().size()).isEqualTo(210);
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> first.table().freezeAndForward(flow(1, 80), server6))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("IPv4 fabric address");
            first.table().close();

            DirectForwardingTable.Opened second =
                DirectForwardingTable.open(TABLE, "front", "fabric", dual);
            assertThat(second.replacedBecause()).isNull();
            assertThat(second.adopted())
                .hasSize(210)
                .containsEntry(flow6(vip6, 40042, 80), server6)
                .containsEntry(flow(40042, 80), S1);
            assertThat(second.table().frozenCount()).as("both frozen sets flushed").isZero();
            second
                .table()
                .apply(
                    List.of(
                        new DirectForwardingTable.Retire(
                            flow6(vip6, 40000, 80),
                            server6,
                            java.time.Duration.ofSeconds(30),
                            false)));
            assertThat(second.table().closingCount()).isEqualTo(1);
            assertThat(second.table().size()).isEqualTo(209);
            second.table().close();

            // 443 leaves: the IPv6 entries of port 80 are carried over, those of 443 dropped.
            DirectForwardingTable.Opened third =
                DirectForwardingTable.open(
                    TABLE, "front", "fabric", List.of(new Vip(VIP, 80), new Vip(vip6, 80)));
            assertThat(third.dropped()).isEqualTo(10);
            assertThat(third.adopted())
                .hasSize(199)
                .containsEntry(flow6(vip6, 40099, 80), server6)
                .doesNotContainKey(flow6(vip6, 41000, 443));
            assertThat(third.table().entries()).isEqualTo(third.adopted());
            third.table().deleteTable();
            return null;
          });
    }
  }

  private static io.baton.transplant.FlowKey flow6(
      java.net.InetAddress vip, int port, int vipPort) {
    return new io.baton.transplant.FlowKey(
        java.net.InetAddress.ofLiteral("2001:2::" + Integer.toHexString(port)), port, vip, vipPort);
  }

  @Test
  void openAdoptsTheSameShapeAndReplacesAnother() throws Exception {
    try (Lab lab = Lab.create("fwd-table-open")) {
      Host d = dispatcherHost(lab);
      d.call(
          () -> {
            DirectForwardingTable.Opened first =
                DirectForwardingTable.open(TABLE, "front", "fabric", VIPS);
            assertThat(first.adopted()).isEmpty();
            assertThat(first.replacedBecause()).isNull();
            for (int port = 40000; port < 40200; port++)
              first.table().freezeAndForward(flow(port, 80), S1);
            for (int port = 41000; port < 41050; port++)
              first.table().freezeAndForward(flow(port, 443), S2);
            first.table().close();

            // VIPs in another order are the same shape.
            DirectForwardingTable.Opened second =
                DirectForwardingTable.open(TABLE, "front", "fabric", VIPS.reversed());
            assertThat(second.replacedBecause()).isNull();
            assertThat(second.adopted()).hasSize(250).containsEntry(flow(40123, 80), S1);
            assertThat(second.table().frozenCount()).as("frozen set emptied on adoption").isZero();
            assertThat(second.table().size()).isEqualTo(250);
            second.table().close();

            // Port 443 is no longer a VIP: the table is replaced in one transaction that carries
            // the
            // port-80 connections over (established connections keep their forwarding) and drops
            // the
            // others.
            DirectForwardingTable.Opened third =
                DirectForwardingTable.open(TABLE, "front", "fabric", List.of(new Vip(VIP, 80)));
            assertThat(third.replacedBecause())
                .isEqualTo("its devices or VIPs differ from this configuration");
            assertThat(third.dropped()).isEqualTo(50);
            assertThat(third.adopted())
                .hasSize(200)
                .containsEntry(flow(40123, 80), S1)
                .doesNotContainKey(flow(41000, 443));
            assertThat(third.table().entries()).isEqualTo(third.adopted());
            third.table().close();

            // And back: nothing of port 80 is lost on the way.
            DirectForwardingTable.Opened fourth =
                DirectForwardingTable.open(TABLE, "front", "fabric", VIPS);
            assertThat(fourth.dropped()).isZero();
            assertThat(fourth.table().size()).isEqualTo(200);
            fourth.table().deleteTable();
            return null;
          });
      assertThat(d.execOrThrow("nft", "list", "tables").stdout()).doesNotContain(TABLE);
    }
  }

  @Test
  void changesRepairAMapThatIsNotWhatTheCallerBelieved() throws Exception {
    try (Lab lab = Lab.create("fwd-table-repair")) {
      Host d = dispatcherHost(lab);
      d.call(
          () -> {
            try (DirectForwardingTable t =
                DirectForwardingTable.create(TABLE, "front", "fabric", VIPS)) {
              FlowKey f = flow(40000, 80);
              t.apply(List.of(new DirectForwardingTable.Forward(f, S1, false)));
              // Claims there is no entry (there is one, to S1): the batch fails, the retry replaces
              // it.
              t.apply(
                  List.of(
                      new DirectForwardingTable.Forward(f, S2, false),
                      new DirectForwardingTable.Unforward(flow(40001, 80))));
              assertThat(t.entries()).isEqualTo(Map.of(f, S2));
              // Claims there is one (there is none): the delete is skipped on retry.
              FlowKey g = flow(40002, 443);
              t.apply(List.of(new DirectForwardingTable.Forward(g, S1, true)));
              assertThat(t.entries()).isEqualTo(Map.of(f, S2, g, S1));
              t.removeAll(List.of(f, g, flow(40003, 80)));
              assertThat(t.size()).isZero();
            }
            return null;
          });
    }
  }
}
