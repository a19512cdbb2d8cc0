package io.baton.cli.bench;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.Segment;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The benchmark's lab: a client, a balancer node {@code lb} and servers {@code s1..s3} in network
 * namespaces. The front segment (198.18.0.0/24) joins the client, lb (which holds the VIP
 * 198.18.0.100) and the servers, whose direct-server-return answers take it; the fabric segment
 * (198.18.1.0/24) joins lb and the servers. Every server serves the same directory of random files,
 * one per response size.
 *
 * <p>CPU steering is part of the lab: lb's interfaces receive on {@link CpuSteering#BALANCER_CPU},
 * the client's, the servers' and the bridges' on {@link CpuSteering#OTHERS_CPU}. Server hosts are
 * prepared for DSR once (VIP on {@code lo}, ARP and reverse-path settings), so every system meets
 * the same hosts.
 *
 * <p>Built and closed by one thread; {@link #close} deletes every namespace and kills every
 * process, whatever happened before.
 */
final class BenchLab implements AutoCloseable {
  static final String VIP = "198.18.0.100";
  static final String CLIENT_IP = "198.18.0.10";
  static final String LB_FRONT_IP = "198.18.0.1";
  static final String LB_FABRIC_IP = "198.18.1.1";
  static final List<String> SERVERS = List.of("s1", "s2", "s3");

  /** The ephemeral port range of the hosts that open many short connections (client and lb). */
  static final String LOCAL_PORT_RANGE = "1024 65000";

  /**
   * The congestion control of every lab host. A new network namespace inherits the host's, and the
   * lab machine's is BBR (with the pfifo_fast qdisc), not Debian's cubic: under BBR the servers'
   * kept-alive connections to a proxy held ready bytes unsent for tens of milliseconds with nothing
   * in flight and the window open (`ss -tin`: notsent 2160 B for 64 ms, BBR's bandwidth estimate
   * down to 26 Mbit/s), which stalled both proxies at 16 KiB (p99 ~50 ms, neither CPU busy) and
   * flattered Baton, whose servers answer the client directly. With cubic the same HAProxy close 16
   * KiB run went from 2,589 to 8,706 req/s, p99 254 to 2.5 ms.
   */
  static final String CONGESTION_CONTROL = "cubic";

  private static final Duration NGINX_READY = Duration.ofSeconds(20);

  final Lab lab;
  final Host client;
  final Host lb;
  final Map<String, Host> servers = new LinkedHashMap<>();

  /** The directory every system serves: one {@code <token>.bin} file per response size. */
  final Path webRoot;

  private final List<BenchProcess> nginxServers = new ArrayList<>();

  private BenchLab(Lab lab, List<ResponseSize> sizes) throws IOException, InterruptedException {
    this.lab = lab;
    Segment front = lab.segment("front");
    Segment fabric = lab.segment("fabric");
    client = lab.host("client");
    client.attach(front, CLIENT_IP + "/24");
    tuneTcp(client);
    tuneForShortConnections(client);
    lb = lab.host("lb");
    // The proxies on lb open connections to the servers as the client opens them to lb.
    tuneForShortConnections(lb);
    lb.attach(front, LB_FRONT_IP + "/24");
    lb.addAddress("front", VIP + "/32");
    lb.attach(fabric, LB_FABRIC_IP + "/24");
    tuneTcp(lb);
    for (String s : SERVERS) {
      Host h = lab.host(s);
      h.attach(front, frontIp(s) + "/24");
      h.attach(fabric, fabricIp(s) + "/24");
      tuneTcp(h);
      // DSR: answer from the VIP on lo, never claim it by ARP, accept forwarded packets.
      h.addAddress("lo", VIP + "/32");
      h.sysctl("net.ipv4.conf.all.arp_ignore", "1");
      h.sysctl("net.ipv4.conf.all.arp_announce", "2");
      h.sysctl("net.ipv4.conf.all.rp_filter", "2");
      h.sysctl("net.ipv4.conf.fabric.rp_filter", "2");
      servers.put(s, h);
    }
    webRoot = Files.createDirectories(lab.dir().resolve("www"));
    writeFiles(webRoot, sizes);
    CpuSteering.steer(lb, CpuSteering.BALANCER_CPU, "front", "fabric");
    CpuSteering.steer(client, CpuSteering.OTHERS_CPU, "front");
    for (Host h : servers.values())
      CpuSteering.steer(h, CpuSteering.OTHERS_CPU, "front", "fabric", "lo");
    CpuSteering.steerNamespace(lab.switchNamespace(), CpuSteering.OTHERS_CPU);
  }

  /** Builds the lab; on any failure tears down what was built and rethrows. */
  static BenchLab create(List<ResponseSize> sizes) throws IOException, InterruptedException {
    Lab lab = Lab.create("bench");
    try {
      return new BenchLab(lab, sizes);
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      try {
        lab.close();
      } catch (RuntimeException teardown) {
        e.addSuppressed(teardown);
      }
      throw e;
    }
  }

  /**
   * Every lab host: the same congestion control whatever the machine's default, on each of its
   * connected routes ({@code congctl}, which applies to connections opened and accepted over the
   * route). Not the namespace's {@code tcp_congestion_control}: outside the initial namespace the
   * kernel lets that name only algorithms in the host's {@code tcp_allowed_congestion_control}
   * ("reno bbr" here; EPERM for cubic), and the lab does not change the host. Call after the host's
   * addresses are attached.
   */
  static void tuneTcp(Host host) {
    congctl(host, "main", "scope link");
    // Connections to the host's own addresses (a Baton server's relay to nginx on 127.0.0.1).
    congctl(host, "local", "local ");
  }

  private static void congctl(Host host, String table, String selector) {
    for (String route :
        host.execOrThrow("ip", "-4", "route", "show", "table", table).stdout().lines().toList()) {
      if (!route.contains(selector)) continue;
      List<String> command = new ArrayList<>(List.of("ip", "route", "replace", "table", table));
      String[] words = route.trim().split("\\s+");
      for (int i = 0; i < words.length; i++) {
        if (words[i].equals("proto") && i + 1 < words.length) {
          i++; // "proto kernel" is the kernel's mark for connected routes, not ours to set
        } else if (!words[i].equals("linkdown")) {
          command.add(words[i]);
        }
      }
      command.addAll(List.of("congctl", CONGESTION_CONTROL));
      host.execOrThrow(command.toArray(String[]::new));
    }
  }

  /**
   * What the lab's many short connections need on a host that opens them: a wide ephemeral port
   * range (the default 32768-60999 leaves ~14,000 ports per destination, as {@code connect()} takes
   * only even ports) and {@code tcp_tw_reuse}, so a port whose earlier connection sits in TIME_WAIT
   * here can be used again after a second (the timestamps tell the peer the segments apart). The
   * client and lb get the same settings, so no balancer runs out of ports before the client does.
   */
  static void tuneForShortConnections(Host host) {
    host.sysctl("net.ipv4.ip_local_port_range", LOCAL_PORT_RANGE);
    host.sysctl("net.ipv4.tcp_tw_reuse", "1");
  }

  static String frontIp(String server) {
    return "198.18.0." + (11 + SERVERS.indexOf(server));
  }

  static String fabricIp(String server) {
    return "198.18.1." + (11 + SERVERS.indexOf(server));
  }

  static List<String> serverFabricIps() {
    return SERVERS.stream().map(BenchLab::fabricIp).toList();
  }

  /** Starts nginx (the origin) on every server, pinned to the others' CPU, and waits for it. */
  void startNginxServers() throws IOException, InterruptedException {
    for (String s : SERVERS) {
      Host h = servers.get(s);
      Path dir = Files.createDirectories(lab.dir().resolve("nginx-" + s));
      Path conf = dir.resolve("nginx.conf");
      Files.writeString(conf, SystemConfigs.nginxServer(dir, webRoot, frontIp(s), fabricIp(s)));
      BenchProcess p =
          BenchProcess.start(
              h,
              "nginx on " + s,
              CpuSteering.pinned(CpuSteering.OTHERS_CPU, List.of("nginx", "-c", conf.toString())));
      nginxServers.add(p);
      p.awaitReady(
          "answering on 127.0.0.1:" + SystemConfigs.NGINX_PORT,
          NGINX_READY,
          () -> answers(h, "http://127.0.0.1:" + SystemConfigs.NGINX_PORT + "/index.html"));
    }
  }

  /** Fails if one of the origin nginx servers has died. */
  void checkNginxServers() throws IOException {
    for (BenchProcess p : nginxServers) p.checkAlive();
  }

  /** True when a GET of {@code url} from {@code from} answers 200 within 2 s. */
  static boolean answers(Host from, String url) {
    CommandResult r =
        from.exec(
            List.of("curl", "-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}", url),
            Duration.ofSeconds(5));
    return r.succeeded() && r.stdout().strip().equals("200");
  }

  /**
   * Deletes every nftables table on lb, so each system starts on a node without packet rules. A
   * Baton dispatcher leaves its forwarding table ({@code netdev baton_fwd}) in the kernel when it
   * stops, by design (the next dispatcher adopts it, so handed-off connections keep flowing). In
   * the lab its entries outlive the run: each steers a client 4-tuple (client address and port to
   * VIP:80) to a server, so when the client reuses such a port against a proxy, the proxy's SYN-ACK
   * never reaches it (the server resets or drops the flow) and the client retransmits its SYN for
   * seconds. A proxy measured after a Baton system then ran at 12 req/s instead of 7,800, or wrk
   * hung. Fails if a table is left.
   */
  void clearBalancerRules() {
    lb.execOrThrow("nft", "flush", "ruleset");
    String left = lb.execOrThrow("nft", "list", "tables").stdout().strip();
    if (!left.isEmpty())
      throw new IllegalStateException("nftables tables left on lb after a flush: " + left);
  }

  /** A file in the lab directory, for a system's configuration. */
  Path file(String name) {
    return lab.dir().resolve(name);
  }

  @Override
  public void close() {
    for (BenchProcess p : nginxServers) p.stop();
    lab.close();
  }

  private static void writeFiles(Path root, List<ResponseSize> sizes) throws IOException {
    Random random = new Random(42);
    for (ResponseSize size : sizes) {
      byte[] bytes = new byte[size.bytes()];
      random.nextBytes(bytes);
      try (OutputStream out = Files.newOutputStream(root.resolve(size.path().substring(1)))) {
        out.write(bytes);
      }
    }
    Files.writeString(root.resolve("index.html"), "<h1>baton bench</h1>\n");
  }
}
