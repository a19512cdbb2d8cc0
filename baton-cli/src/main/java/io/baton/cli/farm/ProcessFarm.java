package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Segment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A farm of real Baton processes, started the way an operator starts them ({@code baton dispatcher
 * --config FILE}, {@code baton server --config FILE}), each a separate JVM inside its lab host, on
 * hosts with the kernel's default settings (IPv6 on). A client, a dispatcher {@code d1} and two
 * servers {@code s1}, {@code s2} that serve the sample app (round robin), each node with its
 * Prometheus endpoint on 127.0.0.1:9400 of its namespace.
 *
 * <p>Tests kill, stop and restart the processes. Built and closed by one thread.
 */
public final class ProcessFarm extends ProcessLab {
  public static final String VIP = "198.18.0.100";
  public static final String CLIENT_IP = "198.18.0.10";
  public static final List<String> SERVERS = List.of("s1", "s2");
  public static final int BIG_FILE_BYTES = 100 << 20;
  static final String SYNC_SECTION =
      """
      sync:
        seeds: [198.18.2.1, 198.18.2.11, 198.18.2.12]
      """;

  /**
   * How the farm is configured beyond its fixed shape.
   *
   * @param dispatcherExtra YAML appended to the dispatcher's config (e.g. a timeouts section)
   * @param serverExtra YAML appended to each server's config
   * @param sync whether the nodes also share a sync network (198.18.2.0/24: d1 .1, s1 .11, s2 .12)
   *     and run the sync plane on it, every node a seed
   * @param healthCheck the servers' {@code server.health-check} value (flow YAML), or empty
   * @param balance the pool's {@code balance}
   * @param cacheBytes each server's sample-app object cache ({@code /cached/KEY}); 0: none
   * @param discover the dispatcher's pool is {@code members: discover} (needs {@code sync})
   * @param relay the servers relay port 80 to nginx on 127.0.0.1:8080 in their hosts (same files)
   *     instead of serving it with the sample application
   */
  public record Options(
      String dispatcherExtra,
      String serverExtra,
      boolean sync,
      String healthCheck,
      String balance,
      long cacheBytes,
      boolean discover,
      String routing,
      boolean relay,
      String port80) {
    public static final Options DEFAULT =
        new Options("", "", false, "", "round-robin", 0, false, "", false, "");

    Options(
        String dispatcherExtra,
        String serverExtra,
        boolean sync,
        String healthCheck,
        String balance,
        long cacheBytes,
        boolean discover) {
      this(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          balance,
          cacheBytes,
          discover,
          "",
          false,
          "");
    }

    Options(
        String dispatcherExtra,
        String serverExtra,
        boolean sync,
        String healthCheck,
        String balance,
        long cacheBytes,
        boolean discover,
        String routing,
        boolean relay) {
      this(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          balance,
          cacheBytes,
          discover,
          routing,
          relay,
          "");
    }

    /**
     * Port 80's delivery on every server, as the inside of its flow mapping ({@code workers: {...}}
     * say; {@code {server}} becomes the server's name, {@code {address}} its front address); the
     * test starts what it names.
     */
    public Options port80(String delivery) {
      return new Options(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          balance,
          cacheBytes,
          discover,
          routing,
          relay,
          delivery);
    }

    /** Port 80 relayed to nginx on every server. */
    public Options relaying() {
      return new Options(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          balance,
          cacheBytes,
          discover,
          routing,
          true);
    }

    /** The sync plane on, with {@code healthCheck} (or empty) on the servers. */
    public Options withSync(String check) {
      return new Options(
          dispatcherExtra, serverExtra, true, check, balance, cacheBytes, discover, routing, relay);
    }

    Options discovering() {
      return new Options(
          dispatcherExtra,
          serverExtra,
          true,
          healthCheck,
          balance,
          cacheBytes,
          true,
          routing,
          relay);
    }

    Options cached(String poolBalance, long bytes) {
      return new Options(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          poolBalance,
          bytes,
          discover,
          routing,
          relay);
    }

    /**
     * {@code yaml} (top-level {@code vips:} and {@code pools:} sections) replaces the dispatcher's
     * and goes into every server's config too (per-request routing reads it there).
     */
    public Options routing(String yaml) {
      return new Options(
          dispatcherExtra,
          serverExtra,
          sync,
          healthCheck,
          balance,
          cacheBytes,
          discover,
          yaml,
          relay);
    }
  }

  public final Host client;
  public final Host d1;
  public final Path bigFile;
  private final Options options;

  ProcessFarm(String purpose, String dispatcherExtra, String serverExtra) throws Exception {
    this(purpose, new Options(dispatcherExtra, serverExtra, false, "", "round-robin", 0, false));
  }

  public ProcessFarm(String purpose, Options options) throws Exception {
    super(purpose);
    this.options = options;
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
      Segment syncNet = options.sync() ? lab.segment("sync") : null;
      if (options.sync()) d1.attach(syncNet, "198.18.2.1/24");
      bigFile = lab.dir().resolve("big.bin");
      Farm.writeRandomFile(bigFile, BIG_FILE_BYTES);
      int octet = 11;
      for (String s : SERVERS) {
        Host h = lab.host(s);
        h.attach(front, "198.18.0." + octet + "/24");
        h.attach(fabric, "198.18.1." + octet + "/24");
        if (options.sync()) h.attach(syncNet, "198.18.2." + octet + "/24");
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

  /**
   * Adds {@code /a/who.txt} and {@code /b/who.txt} ("a from s1", ...) to every server's content:
   * which pool's path a request named and which server answered it (per-request routing).
   */
  public void writePoolFiles() throws java.io.IOException {
    for (String s : SERVERS) {
      Path root = lab.dir().resolve("www-" + s);
      for (String dir : List.of("a", "b")) {
        java.nio.file.Files.createDirectories(root.resolve(dir));
        java.nio.file.Files.writeString(
            root.resolve(dir).resolve("who.txt"), dir + " from " + s + "\n");
      }
    }
  }

  /**
   * Starts every server (after its nginx, when relaying), then the dispatcher, and waits until the
   * fabric is up.
   */
  public ProcessFarm startAll() throws Exception {
    if (options.relay()) {
      Tls.makeCertificates(lab.dir(), List.of("farm.test"));
      int octet = 11;
      for (String s : SERVERS) {
        Nginx.start(
            hosts.get(s), lab.dir(), s, lab.dir().resolve("www-" + s), "198.18.0." + octet++);
      }
    }
    for (String s : SERVERS) start(s);
    for (String s : SERVERS) awaitMetric(s, "baton_server_connections_active", v -> true);
    start("d1");
    awaitFabricUp();
    return this;
  }

  void awaitFabricUp() throws Exception {
    for (String s : SERVERS) {
      awaitMetric("d1", "baton_fabric_up{server=\"" + s + "\"}", v -> v == 1);
    }
  }

  /** Runs curl in the client namespace; {@code args} follow curl's own options. */
  public CommandResult curl(Duration timeout, String... args) {
    return Curl.from(client, timeout, args);
  }

  /** A connection a server lists: the server and the client's "ip:port". */
  public record Served(String server, String client) {}

  /**
   * The farm's one connection to {@code VIP:port} (a download, say), as the server holding it lists
   * it: first the server whose metric counts one connection (an HTTP GET), then that server's
   * {@code baton ctl connections}, one JVM (seconds on a loaded host) rather than one per server.
   */
  public Served awaitTheOneConnection(int port) throws Exception {
    String[] server = new String[1];
    awaitTrue(
        () -> {
          for (String s : SERVERS) {
            if (metric(s, "baton_server_connections_active") == 1) server[0] = s;
          }
          return server[0] != null;
        },
        Duration.ofSeconds(20),
        "a server holding the connection to port " + port);
    String[] client = new String[1];
    awaitTrue(
        () -> {
          CommandResult r =
              cli(server[0], "ctl", "--config", config(server[0]).toString(), "connections");
          for (String line : r.stdout().split("\n")) {
            if (line.startsWith(VIP + ":" + port + " ")) client[0] = line.split("\\s+")[1];
          }
          return client[0] != null;
        },
        Duration.ofSeconds(30),
        "the connection in 'baton ctl connections' on " + server[0]);
    return new Served(server[0], client[0]);
  }

  public static String url(String path) {
    return "http://" + VIP + path;
  }

  private String dispatcherConfig() {
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
        %s
        %s
        %s
        """
        .formatted(
            syncInterface(1),
            key,
            options.routing().isEmpty() ? defaultRouting() : options.routing().strip(),
            syncSection(),
            options.dispatcherExtra());
  }

  /** Both VIP ports to one pool of s1 and s2 (or the discovered servers). */
  private String defaultRouting() {
    return """
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
        %s"""
        .formatted(
            VIP,
            VIP,
            options.balance(),
            options.discover()
                ? "    members: discover"
                : "    members:\n      - { node: s1, fabric-address: 198.18.1.11 }\n"
                    + "      - { node: s2, fabric-address: 198.18.1.12 }")
        .strip();
  }

  private String serverConfig(String name, int octet, Path root) {
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
            - { vip: %s, port: 80, %s }
            - { vip: %s, port: 443, embedded: { app: sample, root: %s } }
        %s
        %s
        %s
        """
        .formatted(
            name,
            octet,
            syncInterface(octet),
            key,
            options.healthCheck().isEmpty() ? "" : "  health-check: " + options.healthCheck(),
            VIP,
            !options.port80().isEmpty()
                ? options
                    .port80()
                    .replace("{server}", name)
                    .replace("{address}", "198.18.0." + octet)
                : options.relay()
                    ? "relay: 127.0.0.1:8080"
                    : "embedded: { app: sample, root: "
                        + root
                        + (options.cacheBytes() > 0 ? ", cache-bytes: " + options.cacheBytes() : "")
                        + " }",
            VIP,
            root,
            syncSection(),
            options.serverExtra(),
            options.routing().strip());
  }

  /** The sync interface line of a node's config (indented for its place), or nothing. */
  private String syncInterface(int octet) {
    return options.sync() ? "    sync:   { device: sync, address: 198.18.2." + octet + " }" : "";
  }

  private String syncSection() {
    return options.sync() ? SYNC_SECTION.strip() : "";
  }
}
