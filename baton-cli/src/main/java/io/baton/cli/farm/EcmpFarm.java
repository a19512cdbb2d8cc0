package io.baton.cli.farm;

import io.baton.lab.Host;
import io.baton.lab.Segment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Dispatchers behind a router, the way production farms announce a VIP: a router namespace runs
 * BIRD 2 with a BGP session to each dispatcher and installs the VIP's route with one next hop per
 * dispatcher that announces it (ECMP, hashed on the 4-tuple's headers: {@code
 * fib_multipath_hash_policy=3} with the 5-tuple's fields); each dispatcher's own BIRD, started by
 * {@code baton dispatcher}, announces the VIP. Two servers serve the sample app. Every node runs
 * the sync plane on a network of its own, so servers tell both dispatchers which connections they
 * own.
 *
 * <pre>
 * client 198.18.4.10 --edge-- router 198.18.4.1 / 198.18.0.254 --front-- d1 .1, d2 .2, s1 .11, s2 .12
 *                                         fabric 198.18.1.0/24, sync 198.18.2.0/24
 * </pre>
 *
 * <p>Built and closed by one thread.
 */
public final class EcmpFarm extends ProcessLab {
  public static final String VIP = "198.18.0.100";
  public static final String ROUTER = "198.18.0.254";

  /** The nodes that dispatch (in peer mode: every node) and those that serve only. */
  public final List<String> dispatchers;

  public final List<String> servers;
  private final boolean peers;
  static final int BIG_FILE_BYTES = 8 << 20;

  public final Host client;
  public final Host router;
  public final Path bigFile;
  private Process routerBird;
  private final Path routerSocket;

  /** Two dispatchers d1, d2 and two servers s1, s2. */
  public EcmpFarm(String purpose) throws Exception {
    this(purpose, false);
  }

  /**
   * @param peers peer mode instead: three nodes p1, p2, p3 (front, fabric and sync .1 to .3), each
   *     dispatcher and server, each announcing the VIP and serving it, one pool of all three
   *     balanced by least connections
   */
  public EcmpFarm(String purpose, boolean peers) throws Exception {
    super(purpose);
    this.peers = peers;
    this.dispatchers = peers ? List.of("p1", "p2", "p3") : List.of("d1", "d2");
    this.servers = peers ? List.of() : List.of("s1", "s2");
    try {
      Segment edge = lab.segment("edge");
      Segment front = lab.segment("front");
      Segment fabric = lab.segment("fabric");
      Segment sync = lab.segment("sync");
      client = lab.host("client");
      client.attach(edge, "198.18.4.10/24");
      client.addRoute("198.18.0.0/24", "198.18.4.1");
      router = lab.host("router");
      router.attach(edge, "198.18.4.1/24");
      router.attach(front, ROUTER + "/24");
      router.sysctl("net.ipv4.ip_forward", "1");
      // Why: ECMP hashes on the whole 4-tuple (L4), as routers in front of load balancers do;
      // the kernel's default hashes on addresses only, which puts one client on one dispatcher.
      // Not policy 1: for a forwarded packet that carries an L4 hash it takes that hash instead
      // of the headers, and across a veth a packet keeps the hash its sending socket gave it,
      // which is random per socket and which TCP draws anew after a retransmission timeout
      // (net.core.txrehash). The lab's router then moved a connection to the other dispatcher
      // at its first retransmission, something no real router does (the hash is not on the
      // wire): a connection in its handshake or first request, which lives in one dispatcher's
      // kernel, failed (EcmpFarmLabTest's take-over, about 1 run in 10). Policy 3 hashes the
      // fields named in fib_multipath_hash_fields, always from the headers: source and
      // destination address, protocol, source and destination port (0x37).
      router.sysctl("net.ipv4.fib_multipath_hash_policy", "3");
      router.sysctl("net.ipv4.fib_multipath_hash_fields", String.valueOf(0x37));
      bigFile = lab.dir().resolve("big.bin");
      Farm.writeRandomFile(bigFile, BIG_FILE_BYTES);
      int octet = 1;
      for (String d : dispatchers) {
        Host h = lab.host(d);
        h.attach(front, "198.18.0." + octet + "/24");
        h.attach(fabric, "198.18.1." + octet + "/24");
        h.attach(sync, "198.18.2." + octet + "/24");
        // The router routes the VIP here; nobody ARPs for it. (A peer's agent puts it on lo.)
        if (!peers) h.addAddress("lo", VIP + "/32");
        h.addRoute("198.18.4.0/24", ROUTER);
        hosts.put(d, h);
        configure(d, dispatcherConfig(d, octet, sampleRoot(d, bigFile)));
        octet++;
      }
      octet = 11;
      for (String s : servers) {
        Host h = lab.host(s);
        h.attach(front, "198.18.0." + octet + "/24");
        h.attach(fabric, "198.18.1." + octet + "/24");
        h.attach(sync, "198.18.2." + octet + "/24");
        h.addRoute("198.18.4.0/24", ROUTER); // direct server return to the client, via the router
        hosts.put(s, h);
        configure(s, serverConfig(s, octet, sampleRoot(s, bigFile)));
        octet++;
      }
      routerSocket = lab.dir().resolve("router-bird.ctl");
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  /**
   * The router's BIRD, the servers, then the dispatchers; returns once the VIP has both next hops.
   */
  public EcmpFarm startAll() throws Exception {
    Path conf = lab.dir().resolve("router-bird.conf");
    StringBuilder c =
        new StringBuilder(
            """
        router id 198.18.0.254;
        log "%s" all;
        protocol device {}
        protocol kernel { ipv4 { import none; export all; }; merge paths on; }
        """
                .formatted(lab.dir().resolve("router-bird.log")));
    int octet = 1;
    for (String d : dispatchers) {
      c.append(
          """
          protocol bgp %s {
            local 198.18.0.254 as 65000;
            neighbor 198.18.0.%d as 65001;
            hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
            ipv4 { import where net = %s/32; export none; };
          }
          """
              .formatted(d, octet++, VIP));
    }
    Files.writeString(conf, c.toString());
    routerBird =
        router.start(List.of("bird", "-f", "-c", conf.toString(), "-s", routerSocket.toString()));
    for (String s : servers) start(s);
    for (String s : servers) awaitMetric(s, "baton_sync_view_members", v -> v >= 1);
    for (String d : dispatchers) start(d);
    List<String> all = peers ? dispatchers : servers;
    for (String d : dispatchers) {
      for (String s : all) {
        if (!s.equals(d)) awaitMetric(d, "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
      }
    }
    awaitNextHops(dispatchers.size(), START_LIMIT);
    int members = dispatchers.size() + servers.size();
    for (String n : all) awaitMetric(n, "baton_sync_view_members", v -> v == members);
    for (String d : dispatchers) awaitMetric(d, "baton_sync_view_members", v -> v == members);
    return this;
  }

  @Override
  protected String verb(String node) {
    return dispatchers.contains(node) ? "dispatcher" : "server";
  }

  /** The VIP's next hops in the router's kernel table now. */
  public List<String> nextHops() {
    String out = router.exec("ip", "route", "show", VIP).stdout();
    List<String> hops = new ArrayList<>();
    var m = java.util.regex.Pattern.compile("via (198\\.18\\.0\\.\\d+)").matcher(out);
    while (m.find()) hops.add(m.group(1));
    return hops;
  }

  /** Connections {@code dispatcher} has handed off ({@code 0} while it does not answer). */
  public double handoffs(String dispatcher) {
    double v = metric(dispatcher, "baton_dispatcher_handoffs_total");
    return Double.isNaN(v) ? 0 : v;
  }

  /** A dispatcher counter summed over both dispatchers (a dispatcher not answering counts 0). */
  public double dispatcherTotal(String metric) {
    double sum = 0;
    for (String d : dispatchers) {
      double v = metric(d, metric);
      if (!Double.isNaN(v)) sum += v;
    }
    return sum;
  }

  /**
   * Waits until {@code n} more connections were handed off than {@code handoffsBefore} counted
   * ({@code baton_dispatcher_handoffs_total} over both dispatchers), and the other dispatcher
   * installed each from the sync plane's ownership news ({@code ownership_installed}) : only then
   * does a killed dispatcher's connection have somewhere to go.
   */
  public void awaitHandedOffAndReplicated(
      double handoffsBefore, double installedBefore, int n, Duration limit) throws Exception {
    awaitTrue(
        () ->
            dispatcherTotal("baton_dispatcher_handoffs_total") >= handoffsBefore + n
                && dispatcherTotal("baton_dispatcher_ownership_installed_total")
                    >= installedBefore + n,
        limit,
        n + " handoffs, each installed by the other dispatcher",
        () -> {
          StringBuilder seen = new StringBuilder();
          for (String d : dispatchers) {
            var m = metrics(d); // one page per dispatcher, its three figures from one moment
            seen.append(d)
                .append(": handoffs ")
                .append(m.getOrDefault("baton_dispatcher_handoffs_total", Double.NaN))
                .append(", installed ")
                .append(m.getOrDefault("baton_dispatcher_ownership_installed_total", Double.NaN))
                .append(", sync members ")
                .append(m.getOrDefault("baton_sync_view_members", Double.NaN))
                .append("; ");
          }
          return seen + "before: handoffs " + handoffsBefore + ", installed " + installedBefore;
        });
  }

  public void awaitNextHops(int n, Duration limit) throws Exception {
    awaitTrue(
        () -> nextHops().size() == n,
        limit,
        "the router's route to " + VIP + " with " + n + " next hops");
  }

  /**
   * One seed list for both shapes, so in each some seeds are hosts that do not exist (.3 with two
   * dispatchers; .11 and .12 in peer mode), as when a seed is down: connecting to them must not
   * hold up anything else (with JGroups' blocking TCP transport it did, for seconds at a time).
   */
  private static final String SYNC =
      """
      sync:
        seeds: [198.18.2.1, 198.18.2.2, 198.18.2.3, 198.18.2.11, 198.18.2.12]
      """;

  private String dispatcherConfig(String name, int octet, Path root) {
    String pool =
        peers
            ? """
          app:
            balance: least-connections
            members:
              - { node: p1, fabric-address: 198.18.1.1 }
              - { node: p2, fabric-address: 198.18.1.2 }
              - { node: p3, fabric-address: 198.18.1.3 }
        """
            : """
          app:
            balance: round-robin
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
              - { node: s2, fabric-address: 198.18.1.12 }
        """;
    String server =
        !peers
            ? ""
            : """
        server:
          apply-host-preparation: true
          deliveries:
            - { vip: %s, port: 80, embedded: { app: sample, root: %s } }
        """
                .formatted(VIP, root);
    return """
        node:
          name: %1$s
          roles: [%7$s]
          interfaces:
            front:  { device: front,  address: 198.18.0.%2$d }
            fabric: { device: fabric, address: 198.18.1.%2$d }
            sync:   { device: sync,   address: 198.18.2.%2$d }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %3$s
        vips:
          - { address: %4$s, port: 80, mode: http, default-pool: app }
        pools:
        %8$s
        announce:
          bgp:
            as: 65001
            neighbors: [{ address: %5$s, as: 65000 }]
        %6$s
        %9$s
        """
        .formatted(
            name,
            octet,
            key,
            VIP,
            ROUTER,
            SYNC,
            peers ? "dispatcher, server" : "dispatcher",
            pool.stripTrailing(),
            server);
  }

  private String serverConfig(String name, int octet, Path root) {
    return """
        node:
          name: %1$s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: 198.18.1.%2$d }
            sync:   { device: sync,   address: 198.18.2.%2$d }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %3$s
        server:
          apply-host-preparation: true
          deliveries:
            - { vip: %4$s, port: 80, embedded: { app: sample, root: %5$s } }
        %6$s
        """
        .formatted(name, octet, key, VIP, root, SYNC);
  }

  @Override
  public void close() {
    if (routerBird != null && routerBird.isAlive()) routerBird.destroyForcibly();
    super.close();
  }
}
