package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Segment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Real Baton processes on a dual-stack farm: a client (198.18.0.10, 2001:2::10), a dispatcher d1
 * (front 198.18.0.1 and 2001:2::1 with both VIPs, 198.18.0.100 and 2001:2::100, fabric 198.18.1.1
 * and 2001:2:0:1::1) and servers s1, s2 (front .11/.12 for their direct answers, fabric
 * 198.18.1.11/12 and 2001:2:0:1::11/12). Hosts keep the kernel's defaults.
 *
 * <p>The servers' node fabric address is IPv6, so every handoff session runs over IPv6; the
 * dispatcher lists each server twice: in pool {@code app6} (first, so the session goes there) with
 * its IPv6 fabric address for the IPv6 VIP, in {@code app4} with its IPv4 one for the IPv4 VIP. VIP
 * ports: 198.18.0.100:80 and 2001:2::100:80 (http, the sample app), 2001:2::100:443 (tls, routed by
 * SNI, relayed to nginx's TLS on 127.0.0.1:8443), 2001:2::100:8080 (http, relayed to nginx on
 * [::1]:8080). Built and closed by one thread.
 */
final class DualStackFarm extends ProcessLab {
  static final String VIP4 = "198.18.0.100";
  static final String VIP6 = "2001:2::100";
  static final String CLIENT6 = "2001:2::10";
  static final List<String> SERVERS = List.of("s1", "s2");
  static final String TLS_NAME = "farm.test";

  final Host client;
  final Host d1;
  final Path bigFile;
  final Path caCert;

  DualStackFarm(String purpose) throws Exception {
    super(purpose);
    try {
      Segment front = lab.segment("front");
      Segment fabric = lab.segment("fabric");
      client = lab.host("client");
      client.attach(front, "198.18.0.10/24");
      client.addAddress("front", CLIENT6 + "/64");
      d1 = lab.host("d1");
      d1.attach(front, "198.18.0.1/24");
      d1.addAddress("front", "2001:2::1/64");
      d1.addAddress("front", VIP4 + "/32");
      d1.addAddress("front", VIP6 + "/128"); // nodad (the lab adds IPv6 so): usable at once
      d1.attach(fabric, "198.18.1.1/24");
      d1.addAddress("fabric", "2001:2:0:1::1/64");
      hosts.put("d1", d1);
      bigFile = lab.dir().resolve("big.bin");
      Farm.writeRandomFile(bigFile, ProcessFarm.BIG_FILE_BYTES);
      caCert = Tls.makeCertificates(lab.dir(), List.of(TLS_NAME));
      int octet = 11;
      for (String s : SERVERS) {
        Host h = lab.host(s);
        h.attach(front, "198.18.0." + octet + "/24");
        h.addAddress("front", "2001:2::" + octet + "/64");
        h.attach(fabric, "198.18.1." + octet + "/24");
        h.addAddress("fabric", "2001:2:0:1::" + octet + "/64");
        hosts.put(s, h);
        configure(s, serverConfig(s, octet, sampleRoot(s, bigFile)));
        octet++;
      }
      configure("d1", dispatcherConfig());
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  @Override
  protected String verb(String node) {
    return node.equals("d1") ? "dispatcher" : "server";
  }

  /** Starts nginx and the servers, then the dispatcher; waits until both sessions are up. */
  DualStackFarm startAll() throws Exception {
    for (String s : SERVERS) {
      Nginx.start(hosts.get(s), lab.dir(), s, lab.dir().resolve("www-" + s), "[::1]");
    }
    for (String s : SERVERS) start(s);
    for (String s : SERVERS) awaitMetric(s, "baton_server_connections_active", v -> true);
    start("d1");
    for (String s : SERVERS) {
      awaitMetric("d1", "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
    }
    return this;
  }

  /** Runs curl in the client namespace; {@code args} follow curl's own options. */
  CommandResult curl(Duration timeout, String... args) {
    // -g: IPv6 literals in brackets are addresses, not curl's URL globbing.
    List<String> all = new ArrayList<>(List.of("-g"));
    all.addAll(List.of(args));
    return Curl.from(client, timeout, all.toArray(String[]::new));
  }

  static String url6(String path) {
    return "http://[" + VIP6 + "]" + path;
  }

  static String url4(String path) {
    return "http://" + VIP4 + path;
  }

  private String dispatcherConfig() {
    return """
        node:
          name: d1
          roles: [dispatcher]
          interfaces:
            front:  { device: front,  address: 2001:2::1 }
            fabric: { device: fabric, address: 2001:2:0:1::1 }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        vips:
          - { address: %s, port: 80, mode: http, default-pool: app4 }
          - { address: %s, port: 80, mode: http, default-pool: app6 }
          - { address: %s, port: 8080, mode: http, default-pool: app6 }
          - address: %s
            port: 443
            mode: tls
            default-pool: app6
            rules:
              - { name: farm, sni: %s, pool: app6 }
        pools:
          app6:
            balance: round-robin
            members:
              - { node: s1, fabric-address: "2001:2:0:1::11" }
              - { node: s2, fabric-address: "2001:2:0:1::12" }
          app4:
            balance: round-robin
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
              - { node: s2, fabric-address: 198.18.1.12 }
        """
        .formatted(key, VIP4, VIP6, VIP6, VIP6, TLS_NAME);
  }

  private String serverConfig(String name, int octet, Path root) {
    return """
        node:
          name: %1$s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: "2001:2:0:1::%2$d" }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %3$s
        server:
          apply-host-preparation: true
          deliveries:
            - { vip: %4$s, port: 80, embedded: { app: sample, root: %6$s } }
            - { vip: "%5$s", port: 80, embedded: { app: sample, root: %6$s } }
            - { vip: "%5$s", port: 8080, relay: "[::1]:8080" }
            - { vip: "%5$s", port: 443, relay: 127.0.0.1:8443 }
        """
        .formatted(name, octet, key, VIP4, VIP6, root);
  }
}
