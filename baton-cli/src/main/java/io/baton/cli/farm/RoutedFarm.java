package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Segment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A farm whose servers sit behind a router: real Baton processes ({@code baton dispatcher|server
 * --config FILE}) on hosts with the kernel's defaults (IPv6 on), the dispatcher d1 and the servers
 * s1, s2 in different subnets. The dispatcher forwards every client packet encapsulated ({@code
 * forwarding: encap}); the servers answer clients through the router from the VIP.
 *
 * <pre>
 *  client 198.18.0.10 ── front 198.18.0.0/24 ── d1 198.18.0.1 (+ VIP 198.18.0.100)
 *                              │ router .254          │ uplink 198.18.1.1
 *                              └────── router ─────── uplink 198.18.1.0/24 (.254)
 *                                        │ fabric 198.18.3.0/24 (.254)
 *                              s1 198.18.3.11, s2 198.18.3.12 (VIP on lo)
 * </pre>
 *
 * <p>VIPs: 80 (http, the sample app, 100 MiB {@code /big.bin}), 53/udp (dnsmasq on each server
 * answering {@code who.farm.test} with its own front-side name, 198.18.0.11 or .12), 7/udp (the
 * agent's echo); and the IPv6 VIP 2001:2::100 with 80 and 53/udp, on the front segment only (the
 * client 2001:2::10, d1 2001:2::1): its packets cross the IPv4 fabric wrapped like the others, and
 * the servers answer through the router (2001:2::fe, 2001:2:0:3::fe). Built and closed by one
 * thread.
 */
public final class RoutedFarm extends ProcessLab {
  public static final String VIP = "198.18.0.100";
  public static final String CLIENT_IP = "198.18.0.10";

  /** The IPv6 VIP and client, on the front segment only: the fabric is IPv4. */
  public static final String VIP6 = "2001:2::100";

  public static final String CLIENT_IP6 = "2001:2::10";
  public static final List<String> SERVERS = List.of("s1", "s2");
  public static final int BIG_FILE_BYTES = 100 << 20;

  /** The address each server's DNS answers for {@code who.farm.test}: which server answered. */
  public static final Map<String, String> WHO = Map.of("s1", "198.18.0.11", "s2", "198.18.0.12");

  public final Host client;
  public final Host d1;
  public final Host router;
  public final Path bigFile;
  private final Map<String, Process> dnsServers = new HashMap<>();

  /**
   * @param dispatcherExtra YAML appended to d1's config (a timeouts section, say)
   */
  public RoutedFarm(String purpose, String dispatcherExtra) throws Exception {
    super(purpose);
    try {
      Segment front = lab.segment("front");
      Segment uplink = lab.segment("uplink");
      Segment fabric = lab.segment("fabric");
      client = lab.host("client");
      client.attach(front, CLIENT_IP + "/24");
      client.addAddress("front", CLIENT_IP6 + "/64");
      router = lab.host("router");
      router.attach(front, "198.18.0.254/24");
      router.attach(uplink, "198.18.1.254/24");
      router.attach(fabric, "198.18.3.254/24");
      router.sysctl("net.ipv4.ip_forward", "1");
      // IPv6 only for the servers' answers to IPv6 clients: front 2001:2::/64, servers'
      // 2001:2:0:3::/64.
      router.addAddress("front", "2001:2::fe/64");
      router.addAddress("fabric", "2001:2:0:3::fe/64");
      router.sysctl("net.ipv6.conf.all.forwarding", "1");
      // The servers' answers come from the VIP, whose route here points to the front segment: a
      // router carrying direct server return lets them through (no reverse-path filter).
      router.sysctl("net.ipv4.conf.all.rp_filter", "0");
      router.sysctl("net.ipv4.conf.fabric.rp_filter", "0");
      d1 = lab.host("d1");
      d1.attach(front, "198.18.0.1/24");
      d1.addAddress("front", VIP + "/32");
      d1.addAddress("front", "2001:2::1/64");
      d1.addAddress("front", VIP6 + "/128");
      d1.attach(uplink, "198.18.1.1/24");
      d1.addRoute("198.18.3.0/24", "198.18.1.254");
      hosts.put("d1", d1);
      bigFile = lab.dir().resolve("big.bin");
      Farm.writeRandomFile(bigFile, BIG_FILE_BYTES);
      int octet = 11;
      for (String s : SERVERS) {
        Host h = lab.host(s);
        h.attach(fabric, "198.18.3." + octet + "/24");
        h.addRoute("198.18.0.0/15", "198.18.3.254");
        h.addAddress("fabric", "2001:2:0:3::" + octet + "/64");
        h.addRoute("2001:2::/64", "2001:2:0:3::fe");
        hosts.put(s, h);
        configure(s, serverConfig(s, octet, sampleRoot(s, bigFile)));
        octet++;
      }
      configure("d1", dispatcherConfig(dispatcherExtra));
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  @Override
  protected String verb(String node) {
    return node.equals("d1") ? "dispatcher" : "server";
  }

  /** Starts the servers, their DNS servers (once the agent put the VIP on lo), then d1. */
  public RoutedFarm startAll() throws Exception {
    for (String s : SERVERS) start(s);
    for (String s : SERVERS) {
      awaitMetric(s, "baton_server_connections_active", v -> true);
      startDns(s);
    }
    start("d1");
    for (String s : SERVERS) {
      awaitMetric("d1", "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
    }
    return this;
  }

  /** dnsmasq on {@code server}, bound to the VIP's port 53, authoritative for who.farm.test. */
  public void startDns(String server) {
    Path dir = lab.dir();
    dnsServers.put(
        server,
        hosts
            .get(server)
            .start(
                List.of(
                    "dnsmasq",
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--bind-interfaces",
                    "--listen-address=" + VIP + "," + VIP6,
                    "--port=53",
                    "--user=root",
                    "--pid-file=" + dir.resolve("dnsmasq-" + server + ".pid"),
                    "--host-record=who.farm.test," + WHO.get(server),
                    "--log-facility=-")));
  }

  /** SIGKILL to the server's DNS server. */
  public void killDns(String server) throws InterruptedException {
    Process p = dnsServers.get(server);
    p.destroyForcibly();
    p.waitFor();
  }

  /** Runs curl in the client namespace. */
  public CommandResult curl(Duration timeout, String... args) {
    return Curl.from(client, timeout, args);
  }

  /**
   * {@code dig +short @VIP who.farm.test} from the client, one try of 2 s: a new flow (dig picks a
   * new source port), answered by the server it lands on; dig takes an answer only from the address
   * it asked.
   */
  public CommandResult dig(String vip) {
    return client.exec(
        List.of("dig", "+short", "+time=2", "+tries=1", "@" + vip, "who.farm.test"),
        Duration.ofSeconds(10));
  }

  public static String url(String path) {
    return "http://" + VIP + path;
  }

  /** The URL of {@code path} on the IPv6 VIP (curl needs -g for the brackets). */
  public static String url6(String path) {
    return "http://[" + VIP6 + "]" + path;
  }

  private String dispatcherConfig(String extra) {
    return """
        node:
          name: d1
          roles: [dispatcher]
          interfaces:
            front:  { device: front,  address: 198.18.0.1 }
            fabric: { device: uplink, address: 198.18.1.1 }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        vips:
          - { address: %s, port: 80, mode: http, default-pool: app }
          - { address: %s, port: 53, mode: udp, default-pool: app }
          - { address: %s, port: 7, mode: udp, default-pool: app }
          - { address: %s, port: 80, mode: http, default-pool: app }
          - { address: %s, port: 53, mode: udp, default-pool: app }
        pools:
          app:
            balance: round-robin
            forwarding: encap
            members:
              - { node: s1, fabric-address: 198.18.3.11 }
              - { node: s2, fabric-address: 198.18.3.12 }
        %s
        """
        .formatted(key, VIP, VIP, VIP, VIP6, VIP6, extra);
  }

  private String serverConfig(String name, int octet, Path root) {
    return """
        node:
          name: %s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: 198.18.3.%d }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        server:
          apply-host-preparation: true
          # The dispatcher is behind the router, not on this fabric network.
          dispatchers: [198.18.1.1]
          deliveries:
            - { vip: %s, port: 80, embedded: { app: sample, root: %s } }
            - { vip: %s, port: 53, udp: local }
            - { vip: %s, port: 7, udp: echo }
            - { vip: %s, port: 80, embedded: { app: sample, root: %s } }
            - { vip: %s, port: 53, udp: local }
        """
        .formatted(name, octet, key, VIP, root, VIP, VIP, VIP6, root, VIP6);
  }

  @Override
  public void close() {
    for (Process p : dnsServers.values()) {
      if (p.isAlive()) p.destroyForcibly();
    }
    super.close();
  }
}
