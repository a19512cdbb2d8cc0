package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.Segment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A farm of real Baton processes, started the way an operator starts them ({@code baton
 * dispatcher --config FILE}, {@code baton server --config FILE}), each a separate JVM inside its
 * lab host, on hosts with the kernel's default settings (IPv6 on). A client, a dispatcher
 * {@code d1} and two servers {@code s1}, {@code s2} that serve the sample app (round robin),
 * each node with its Prometheus endpoint on 127.0.0.1:9400 of its namespace.
 *
 * <p>Tests kill, stop and restart the processes. Built and closed by one thread.
 */
final class ProcessFarm implements AutoCloseable {
  static final String VIP = "198.18.0.100";
  static final String CLIENT_IP = "198.18.0.10";
  static final List<String> SERVERS = List.of("s1", "s2");
  static final int BIG_FILE_BYTES = 100 << 20;
  static final Duration START_LIMIT = Duration.ofSeconds(60);

  final Lab lab;
  final Host client;
  final Host d1;
  final Map<String, Host> hosts = new LinkedHashMap<>();
  final Path bigFile;
  private final Map<String, Path> configs = new HashMap<>();
  private final Map<String, Process> processes = new HashMap<>();
  private final String key;
  private final boolean sync;
  private final String healthCheck;
  private final String balance;
  private final boolean discover;
  private final long cacheBytes;
  static final String SYNC_SECTION = """
      sync:
        seeds: [198.18.2.1, 198.18.2.11, 198.18.2.12]
      """;

  /**
   * @param dispatcherExtra YAML appended to the dispatcher's config (e.g. a timeouts section)
   * @param serverExtra YAML appended to each server's config
   */
  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra) throws Exception {
    this(purpose, dispatcherExtra, serverExtra, false);
  }

  /**
   * @param sync whether the nodes also share a sync network (198.18.2.0/24: d1 .1, s1 .11, s2
   *     .12) and run the sync plane on it, every node a seed
   */
  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra, boolean sync) throws Exception {
    this(purpose, dispatcherExtra, serverExtra, sync, "");
  }

  /** @param healthCheck the servers' {@code server.health-check} value (flow YAML), or empty */
  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra, boolean sync, String healthCheck)
      throws Exception {
    this(purpose, dispatcherExtra, serverExtra, sync, healthCheck, "round-robin", 0, false);
  }

  /** A farm with the sync plane whose dispatcher lists no servers: its pool discovers them. */
  static ProcessFarm discovering(String purpose) throws Exception {
    return new ProcessFarm(purpose, "", "", true, "", "round-robin", 0, true);
  }

  /**
   * @param balance the pool's {@code balance}
   * @param cacheBytes each server's sample-app object cache ({@code /cached/KEY}); 0: none
   */
  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra, boolean sync, String healthCheck,
      String balance, long cacheBytes) throws Exception {
    this(purpose, dispatcherExtra, serverExtra, sync, healthCheck, balance, cacheBytes, false);
  }

  /** @param discover the dispatcher's pool is {@code members: discover} (needs {@code sync}) */
  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra, boolean sync, String healthCheck,
      String balance, long cacheBytes, boolean discover) throws Exception {
    this.discover = discover;
    this.sync = sync;
    this.healthCheck = healthCheck;
    this.balance = balance;
    this.cacheBytes = cacheBytes;
    byte[] k = new byte[32];
    new java.security.SecureRandom().nextBytes(k);
    key = HexFormat.of().formatHex(k);
    lab = Lab.create(purpose);
    try {
      Segment front = lab.segment("front");
      Segment fabric = lab.segment("fabric");
      client = lab.host("client");
      client.attach(front, CLIENT_IP + "/24");
      d1 = lab.host("d1");
      d1.attach(front, "198.18.0.1/24");
      d1.addAddress("front", VIP + "/32");
      d1.attach(fabric, "198.18.1.1/24");
      hosts.put("d1", d1);
      Segment syncNet = sync ? lab.segment("sync") : null;
      if (sync) d1.attach(syncNet, "198.18.2.1/24");
      bigFile = lab.dir().resolve("big.bin");
      Farm.writeRandomFile(bigFile, BIG_FILE_BYTES);
      int octet = 11;
      for (String s : SERVERS) {
        Host h = lab.host(s);
        h.attach(front, "198.18.0." + octet + "/24");
        h.attach(fabric, "198.18.1." + octet + "/24");
        if (sync) h.attach(syncNet, "198.18.2." + octet + "/24");
        hosts.put(s, h);
        Path root = Files.createDirectories(lab.dir().resolve("www-" + s));
        Files.writeString(root.resolve("whoami.txt"), s + "\n");
        Files.createLink(root.resolve("big.bin"), bigFile);
        configs.put(s, write(s, serverConfig(s, octet, root, serverExtra)));
        octet++;
      }
      configs.put("d1", write("d1", dispatcherConfig(dispatcherExtra)));
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  /** Starts every server, then the dispatcher, and waits until the fabric is up. */
  ProcessFarm startAll() throws Exception {
    for (String s : SERVERS) start(s);
    for (String s : SERVERS) awaitMetric(s, "baton_server_connections_active", v -> true);
    start("d1");
    awaitFabricUp();
    return this;
  }

  /** Starts the node's process ({@code baton dispatcher|server --config FILE}). */
  Process start(String node) {
    String verb = node.equals("d1") ? "dispatcher" : "server";
    Process p = hosts.get(node).start(NodeProcesses.baton(verb, "--config", configs.get(node).toString()));
    processes.put(node, p);
    return p;
  }

  /** Runs {@code baton ARGS} in the node's namespace, as an operator on that host would. */
  CommandResult cli(String node, String... args) {
    return hosts.get(node).exec(NodeProcesses.baton(args), Duration.ofSeconds(60));
  }

  /** The node's config file. */
  Path config(String node) {
    return configs.get(node);
  }

  Process process(String node) {
    return processes.get(node);
  }

  /** SIGKILL, and waits for the process to be gone. */
  void kill9(String node) throws InterruptedException {
    Process p = processes.get(node);
    p.destroyForcibly();
    if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) throw new AssertionError(node + " survived SIGKILL");
  }

  /** SIGTERM (a clean stop through the shutdown hook), and waits for the exit. */
  int stop(String node) throws InterruptedException {
    Process p = processes.get(node);
    p.destroy();
    if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) throw new AssertionError(node + " ignored SIGTERM for 30 s");
    return p.exitValue();
  }

  void signal(String node, String signal) {
    CommandResult r = hosts.get(node).exec("kill", "-" + signal, String.valueOf(processes.get(node).pid()));
    if (!r.succeeded()) throw new AssertionError("kill -" + signal + ": " + r.stderr());
  }

  /** The node's metrics, name{labels} -> value (NaN-free counters and gauges). */
  Map<String, Double> metrics(String node) {
    return NodeProcesses.scrape(hosts.get(node));
  }

  double metric(String node, String name) {
    return metrics(node).getOrDefault(name, Double.NaN);
  }

  void awaitMetric(String node, String name, java.util.function.DoublePredicate ok) throws Exception {
    EcmpFarm.awaitTrue(() -> {
      double v = metric(node, name);
      return !Double.isNaN(v) && ok.test(v);
    }, START_LIMIT, node + " metric " + name);
  }

  void awaitFabricUp() throws Exception {
    for (String s : SERVERS) {
      awaitMetric("d1", "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
    }
  }

  /** Runs curl in the client namespace; {@code args} follow curl's own options. */
  CommandResult curl(Duration timeout, String... args) {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", String.valueOf(timeout.toSeconds())));
    cmd.addAll(List.of(args));
    return client.exec(cmd, timeout.plusSeconds(5));
  }

  static String url(String path) {
    return "http://" + VIP + path;
  }

  /** The standard error of the node's current process, for failure messages. */
  String log(String node) {
    try {
      return Files.readString(hosts.get(node).stderrOf(processes.get(node)));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private Path write(String node, String yaml) throws IOException {
    Path file = lab.dir().resolve(node + ".yaml");
    Files.writeString(file, yaml);
    return file;
  }

  private String dispatcherConfig(String extra) {
    return """
        node:
          name: d1
          roles: [dispatcher]
          interfaces:
            front:  { device: front,  address: 198.18.0.1 }
            fabric: { device: fabric, address: 198.18.1.1 }
        %s
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        vips:
          - address: %s
            port: 80
            mode: http
            default-pool: app
          - address: %s
            port: 443
            mode: http
            default-pool: app
        pools:
          app:
            balance: %s
        %s
        %s
        %s
        """.formatted(syncInterface(1), key, VIP, VIP, balance, discover ? "    members: discover"
            : "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n"
                + "      - { node: s2, fabric-address: 198.18.1.12 }", syncSection(), extra);
  }

  private String serverConfig(String name, int octet, Path root, String extra) {
    return """
        node:
          name: %s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: 198.18.1.%d }
        %s
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        server:
          apply-host-preparation: true
        %s
          deliveries:
            - { vip: %s, port: 80, embedded: { app: sample, root: %s%s } }
            - { vip: %s, port: 443, embedded: { app: sample, root: %s } }
        %s
        %s
        """.formatted(name, octet, syncInterface(octet), key,
            healthCheck.isEmpty() ? "" : "  health-check: " + healthCheck, VIP, root,
            cacheBytes > 0 ? ", cache-bytes: " + cacheBytes : "", VIP, root, syncSection(), extra);
  }

  /** The sync interface line of a node's config (indented for its place), or nothing. */
  private String syncInterface(int octet) {
    return sync ? "    sync:   { device: sync, address: 198.18.2." + octet + " }" : "";
  }

  private String syncSection() {
    return sync ? SYNC_SECTION.strip() : "";
  }

  @Override
  public void close() {
    for (Process p : processes.values()) {
      if (p.isAlive()) p.destroyForcibly();
    }
    lab.close();
  }
}
