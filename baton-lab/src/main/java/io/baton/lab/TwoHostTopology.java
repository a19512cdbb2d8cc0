package io.baton.lab;

/**
 * The smallest lab in which a connection can move: a client, host {@code a} that owns the VIP on
 * the front segment (where a dispatcher sits) and host {@code b} that holds the VIP on lo and is
 * prepared for direct server return (ARP settings, loose reverse-path filtering), joined by front
 * and fabric segments. Addresses: client 198.18.0.10, a 198.18.0.1 / 198.18.1.1, b 198.18.0.2 /
 * 198.18.1.2, VIP 198.18.0.100.
 *
 * <p>Immutable once built; the hosts are thread-safe.
 */
public record TwoHostTopology(Host client, Host a, Host b) {
  public static final String VIP = "198.18.0.100";
  public static final String CLIENT_IP = "198.18.0.10";
  public static final String A_FABRIC_IP = "198.18.1.1";
  public static final String B_FABRIC_IP = "198.18.1.2";
  public static final String VIP6 = "2001:2::100";
  public static final String CLIENT_IP6 = "2001:2::10";
  public static final String A_FABRIC_IP6 = "2001:2:0:1::1";
  public static final String B_FABRIC_IP6 = "2001:2:0:1::2";

  /**
   * As {@link #build}, with IPv6 beside IPv4: the front is 2001:2::/64 (A holds {@link #VIP6} on
   * its front interface, B on lo), the fabric 2001:2:0:1::/64. IPv6 has no arp_ignore: B does not
   * answer neighbour solicitations for the VIP on lo, since Linux answers them only for addresses
   * of the interface they arrive on (ndisc_recv_ns looks the target up strictly on that device).
   */
  public static TwoHostTopology buildDualStack(Lab lab) {
    TwoHostTopology t = build(lab);
    t.client().addAddress("front", CLIENT_IP6 + "/64");
    t.a().addAddress("front", "2001:2::1/64");
    t.a().addAddress("front", VIP6 + "/128");
    t.a().addAddress("fabric", A_FABRIC_IP6 + "/64");
    t.b().addAddress("front", "2001:2::2/64");
    t.b().addAddress("fabric", B_FABRIC_IP6 + "/64");
    t.b().addAddress("lo", VIP6 + "/128");
    return t;
  }

  /** Builds the hosts and segments in {@code lab}. */
  public static TwoHostTopology build(Lab lab) {
    Segment front = lab.segment("front");
    Segment fabric = lab.segment("fabric");
    Host client = lab.host("client");
    client.attach(front, CLIENT_IP + "/24");
    Host a = lab.host("a");
    a.attach(front, "198.18.0.1/24");
    a.addAddress("front", VIP + "/32");
    a.attach(fabric, A_FABRIC_IP + "/24");
    Host b = lab.host("b");
    b.attach(front, "198.18.0.2/24");
    b.attach(fabric, B_FABRIC_IP + "/24");
    b.addAddress("lo", VIP + "/32");
    b.sysctl("net.ipv4.conf.all.arp_ignore", "1");
    b.sysctl("net.ipv4.conf.all.arp_announce", "2");
    b.sysctl("net.ipv4.conf.all.rp_filter", "0");
    b.sysctl("net.ipv4.conf.fabric.rp_filter", "0");
    return new TwoHostTopology(client, a, b);
  }
}
