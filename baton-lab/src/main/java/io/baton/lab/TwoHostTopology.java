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
