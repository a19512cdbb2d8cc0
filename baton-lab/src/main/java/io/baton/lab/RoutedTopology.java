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
 *
 * <p>{@link #buildWithIpv6Front} adds IPv6 on the client's side only (the fabric stays IPv4).
 */
public record RoutedTopology(Host client, Host a, Host router, Host b) {
  public static final String VIP = TwoHostTopology.VIP;
  public static final String CLIENT_IP = TwoHostTopology.CLIENT_IP;
  public static final String A_FABRIC_IP = "198.18.1.1";
  public static final String ROUTER_FABRIC_IP = "198.18.1.254";
  public static final String ROUTER_RACK_IP = "198.18.3.254";
  public static final String B_RACK_IP = "198.18.3.2";

  /** The router's IPv4 address on the front segment, which {@link #buildWithIpv6Front} joins. */
  public static final String ROUTER_FRONT_IP = "198.18.0.254";

  /**
   * IPv6 addresses of {@link #buildWithIpv6Front}, in 2001:2::/48 (RFC 5180's benchmarking block).
   */
  public static final String CLIENT_IP6 = "2001:2::10",
      A_FRONT_IP6 = "2001:2::1",
      VIP6 = "2001:2::100",
      ROUTER_FRONT_IP6 = "2001:2::fe",
      ROUTER_RACK_IP6 = "2001:2:0:3::fe",
      B_RACK_IP6 = "2001:2:0:3::2";

  /** Builds the hosts and segments in {@code lab}. */
  public static RoutedTopology build(Lab lab) {
    return build(lab, false);
  }

  /**
   * As {@link #build}, and gives the client's side IPv6 (issue 13: IPv6 clients, IPv4 fabric):
   * client 2001:2::10/64 on front; a 2001:2::1/64 and the VIP 2001:2::100/128 on front (a answers
   * neighbour solicitations for the VIP, so the client's packets to it reach a); the router joins
   * the front segment (IPv4 {@link #ROUTER_FRONT_IP}, IPv6 2001:2::fe/64) and has 2001:2:0:3::fe/64
   * on rack, IPv6 forwarding on; b has 2001:2:0:3::2/64 on rack, the VIP on lo and a route to
   * 2001:2::/64 through the router, so its answers from the VIP reach the client routed, and no
   * IPv6 address on front. Addresses skip duplicate address detection ({@code nodad}), so they are
   * usable at once. Uses {@code ip -6} directly, as {@link Host}'s address helpers are IPv4's.
   */
  public static RoutedTopology buildWithIpv6Front(Lab lab) {
    return build(lab, true);
  }

  private static RoutedTopology build(Lab lab, boolean ipv6) {
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
    if (ipv6) {
      ip6(client, "addr", "add", CLIENT_IP6 + "/64", "dev", "front", "nodad");
      ip6(a, "addr", "add", A_FRONT_IP6 + "/64", "dev", "front", "nodad");
      ip6(a, "addr", "add", VIP6 + "/128", "dev", "front", "nodad");
      router.attach(front, ROUTER_FRONT_IP + "/24");
      ip6(router, "addr", "add", ROUTER_FRONT_IP6 + "/64", "dev", "front", "nodad");
      ip6(router, "addr", "add", ROUTER_RACK_IP6 + "/64", "dev", "rack", "nodad");
      router.sysctl("net.ipv6.conf.all.forwarding", "1");
      ip6(b, "addr", "add", B_RACK_IP6 + "/64", "dev", "rack", "nodad");
      ip6(b, "addr", "add", VIP6 + "/128", "dev", "lo", "nodad");
      ip6(b, "route", "add", "2001:2::/64", "via", ROUTER_RACK_IP6, "dev", "rack");
    }
    return new RoutedTopology(client, a, router, b);
  }

  private static void ip6(Host host, String... arguments) {
    String[] command = new String[arguments.length + 2];
    command[0] = "ip";
    command[1] = "-6";
    System.arraycopy(arguments, 0, command, 2, arguments.length);
    host.execOrThrow(command);
  }

  /** The client, a and b as a {@link TwoHostTopology}, for fixtures written for one. */
  public TwoHostTopology endpoints() {
    return new TwoHostTopology(client, a, b);
  }
}
