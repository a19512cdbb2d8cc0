package io.baton.lab;

/**
 * A lab in which the server is not on the dispatcher's L2 segment: a client; host {@code a} (the
 * dispatcher) with the VIP on its front interface and a fabric interface on segment {@code fabric};
 * a {@code router} joining segment {@code fabric} to segment {@code rack} (IPv4 forwarding on); and
 * server {@code b} on {@code rack}, default route via the router, VIP on lo and prepared for direct
 * server return (ARP settings, reverse-path filtering off, as its inner packets arrive from the
 * router with the client's source address). {@code b} is on the front segment too, for its direct
 * answers to the client. An unchanged packet from {@code a} cannot reach {@code b}'s rack address;
 * an encapsulated (routed) one can.
 *
 * <p>Addresses: client 198.18.0.10; a 198.18.0.1 (front), 198.18.1.1 (fabric); router 198.18.1.254
 * (fabric), 198.18.3.254 (rack); b 198.18.0.2 (front), 198.18.3.2 (rack); VIP 198.18.0.100. Device
 * names are the segment names. Immutable once built; the hosts are thread-safe.
 */
public record RoutedTopology(Host client, Host a, Host router, Host b) {
  public static final String VIP = TwoHostTopology.VIP;
  public static final String CLIENT_IP = TwoHostTopology.CLIENT_IP;
  public static final String A_FABRIC_IP = "198.18.1.1";
  public static final String ROUTER_FABRIC_IP = "198.18.1.254";
  public static final String ROUTER_RACK_IP = "198.18.3.254";
  public static final String B_RACK_IP = "198.18.3.2";

  /** Builds the hosts and segments in {@code lab}. */
  public static RoutedTopology build(Lab lab) {
    Segment front = lab.segment("front");
    Segment fabric = lab.segment("fabric");
    Segment rack = lab.segment("rack");
    Host client = lab.host("client");
    client.attach(front, CLIENT_IP + "/24");
    Host a = lab.host("a");
    a.attach(front, "198.18.0.1/24");
    a.addAddress("front", VIP + "/32");
    a.attach(fabric, A_FABRIC_IP + "/24");
    a.addRoute("198.18.3.0/24", ROUTER_FABRIC_IP);
    Host router = lab.host("router");
    router.attach(fabric, ROUTER_FABRIC_IP + "/24");
    router.attach(rack, ROUTER_RACK_IP + "/24");
    router.sysctl("net.ipv4.ip_forward", "1");
    Host b = lab.host("b");
    b.attach(front, "198.18.0.2/24");
    b.attach(rack, B_RACK_IP + "/24");
    b.execOrThrow("ip", "route", "add", "default", "via", ROUTER_RACK_IP);
    b.addAddress("lo", VIP + "/32");
    b.sysctl("net.ipv4.conf.all.arp_ignore", "1");
    b.sysctl("net.ipv4.conf.all.arp_announce", "2");
    b.sysctl("net.ipv4.conf.all.rp_filter", "0");
    b.sysctl("net.ipv4.conf.rack.rp_filter", "0");
    return new RoutedTopology(client, a, router, b);
  }

  /** The client, a and b as a {@link TwoHostTopology}, for fixtures written for one. */
  public TwoHostTopology endpoints() {
    return new TwoHostTopology(client, a, b);
  }
}
