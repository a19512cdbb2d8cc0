package io.baton.cli.farm;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigLoader;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.Segment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A farm in lab namespaces: a client, one dispatcher {@code d1} and three servers {@code s1..s3} on
 * front, fabric and sync segments. {@code s1} serves through the relay to nginx (plain HTTP on
 * 127.0.0.1:8080, TLS on 127.0.0.1:8443 for {@code a.example.test}); {@code s2} and {@code s3} run
 * the sample app embedded (and nginx for TLS, {@code b.example.test}). The dispatcher routes {@code
 * /static/} to s1, everything else on port 80 to s2/s3, and TLS by SNI.
 *
 * <p>Each node's YAML config is written to the lab directory and loaded with the real loader.
 * Thread-safe for the accessors; built and closed by one thread.
 */
public final class Farm implements AutoCloseable {
  public static final String VIP = "198.18.0.100";
  public static final String CLIENT_IP = "198.18.0.10";
  public static final int HTTP_PORT = 80;
  public static final int TLS_PORT = 443;
  public static final int L4_PORT = 9000;
  public static final List<String> SERVERS = List.of("s1", "s2", "s3");

  /** s2's sample app, reached without Baton: the direct baseline. */
  public static final String DIRECT_APP_IP = "198.18.0.12";

  /** s1's nginx, reached without Baton. */
  public static final String DIRECT_NGINX_IP = "198.18.0.11";

  /** Port of the direct sample app listener (nginx listens directly on 8080). */
  public static final int DIRECT_APP_PORT = 8090;

  public static final int DIRECT_NGINX_PORT = 8080;

  public final Lab lab;
  public final Host client;
  public final Host d1;
  public final Map<String, Host> servers = new LinkedHashMap<>();
  public final Map<String, Path> webRoots = new LinkedHashMap<>();
  public final Map<String, FarmNode> nodes = new LinkedHashMap<>();
  public final Path caCert;

  /** A random file served by every server as /big.bin and /static/big.bin. */
  public final Path bigFile;

  public static final int BIG_FILE_BYTES = 100 << 20;

  /**
   * What the dispatcher's front interface may send during one {@link #BIG_FILE_BYTES} download
   * through a handoff: its SYN-ACK and the ACK of the request head, 140 bytes when measured; the
   * bound leaves room for ARP, neighbour discovery and a retransmission. README quotes it.
   */
  public static final long DISPATCHER_FRONT_TX_MAX_PER_DOWNLOAD = 4 << 10;

  private final String key;
  private final Map<String, String> overrides;

  /**
   * Builds the namespaces, starts nginx on the servers, and starts the Baton nodes.
   *
   * @param overrides replacements for whole config sections keyed by node name then "timeouts" etc.
   *     (tests use it for short timeouts); may be empty
   */
  public static Farm start(String purpose, Map<String, String> overrides) throws Exception {
    Farm farm = new Farm(purpose, overrides);
    try {
      farm.startNodes();
      farm.awaitFabric(Duration.ofSeconds(20));
      return farm;
    } catch (Exception | Error e) {
      farm.close();
      throw e;
    }
  }

  private Farm(String purpose, Map<String, String> overrides) throws Exception {
    this.overrides = Map.copyOf(overrides);
    byte[] k = new byte[32];
    new java.security.SecureRandom().nextBytes(k);
    this.key = HexFormat.of().formatHex(k);
    lab = Lab.create(purpose);
    Segment front = lab.segment("front");
    Segment fabric = lab.segment("fabric");
    Segment sync = lab.segment("sync");
    client = lab.host("client");
    client.attach(front, CLIENT_IP + "/24");
    d1 = lab.host("d1");
    d1.attach(front, "198.18.0.1/24");
    d1.addAddress("front", VIP + "/32");
    d1.attach(fabric, "198.18.1.1/24");
    d1.attach(sync, "198.18.2.1/24");
    int i = 11;
    for (String s : SERVERS) {
      Host h = lab.host(s);
      h.attach(front, "198.18.0." + i + "/24");
      h.attach(fabric, "198.18.1." + i + "/24");
      h.attach(sync, "198.18.2." + i + "/24");
      servers.put(s, h);
      i++;
    }
    bigFile = lab.dir().resolve("big.bin");
    writeRandomFile(bigFile, BIG_FILE_BYTES);
    caCert =
        Tls.makeCertificates(
            lab.dir(), List.of("a.example.test", "b.example.test", "c.example.test"));
    for (String s : SERVERS) {
      Path root = Files.createDirectories(lab.dir().resolve("www-" + s));
      Files.writeString(root.resolve("index.html"), "<h1>" + s + "</h1>\n");
      Files.writeString(root.resolve("whoami.txt"), s + "\n");
      Files.createDirectories(root.resolve("static"));
      Files.writeString(root.resolve("static/whoami.txt"), s + "\n");
      Files.createLink(root.resolve("big.bin"), bigFile);
      Files.createLink(root.resolve("static/big.bin"), bigFile);
      webRoots.put(s, root);
    }
    int octet = 11;
    for (String s : SERVERS) {
      Nginx.start(servers.get(s), lab.dir(), s, webRoots.get(s), "198.18.0." + octet++);
    }
    // d1 also serves (peer mode): the sample app on port 80 and nginx behind a relay on 9001.
    Path d1Root = Files.createDirectories(lab.dir().resolve("www-d1"));
    Files.writeString(d1Root.resolve("whoami.txt"), "d1\n");
    Files.writeString(d1Root.resolve("index.html"), "<h1>d1</h1>\n");
    Files.createLink(d1Root.resolve("big.bin"), bigFile);
    webRoots.put("d1", d1Root);
    Nginx.start(d1, lab.dir(), "d1", d1Root, "198.18.0.1");
  }

  private void startNodes() throws Exception {
    int i = 11;
    for (String s : SERVERS) {
      nodes.put(s, FarmNode.start(servers.get(s), load(s, serverConfig(s, i)), 2));
      i++;
    }
    nodes.put("d1", FarmNode.start(d1, load("d1", dispatcherConfig()), 2));
    nodes
        .get("s2")
        .listenDirect(
            new java.net.InetSocketAddress(DIRECT_APP_IP, DIRECT_APP_PORT),
            io.baton.app.SampleApp.initializer(webRoots.get("s2"), "s2"));
  }

  private BatonConfig load(String node, String yaml) throws Exception {
    Path file = lab.dir().resolve(node + ".yaml");
    Files.writeString(file, yaml);
    return ConfigLoader.load(file);
  }

  private String dispatcherConfig() {
    return """
        node:
          name: d1
          roles: [dispatcher, server]
          interfaces:
            front:  { device: front,  address: 198.18.0.1 }
            fabric: { device: fabric, address: 198.18.1.1 }
            sync:   { device: sync,   address: 198.18.2.1 }
        metrics:
          listen: 127.0.0.1:9400
        cluster:
          key: %s
        vips:
          - address: %s
            port: 80
            mode: http
            default-pool: app
            rules:
              - { name: static, path-prefix: /static/, pool: nginx }
              - { name: s3-only, host: s3.example.test, pool: only-s3 }
              - { name: beta, header: "X-Pool: nginx", pool: nginx }
              - { name: ghost, header: "X-Pool: ghost", pool: ghost }
              - { name: local, header: "X-Pool: local", pool: local }
          - address: %s
            port: 443
            mode: tls
            default-pool: tls-b
            rules:
              - { name: a, sni: a.example.test, pool: tls-a }
              - { name: b, sni: "*.example.test", pool: tls-b }
          - address: %s
            port: 9000
            mode: l4
            default-pool: app
          - address: %s
            port: 8081
            mode: http
            default-pool: picky
          - address: %s
            port: 9001
            mode: l4
            default-pool: local
        server:
          apply-host-preparation: true
          deliveries:
            - { vip: %s, port: 80, embedded: { app: sample, root: %s } }
            - { vip: %s, port: 9001, relay: 127.0.0.1:8080 }
        pools:
          local:
            members:
              - { node: d1, fabric-address: 198.18.1.1 }
          nginx:
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
          app:
            balance: round-robin
            members:
              - { node: s2, fabric-address: 198.18.1.12 }
              - { node: s3, fabric-address: 198.18.1.13 }
          picky:
            balance: round-robin
            members:
              - { node: s2, fabric-address: 198.18.1.12 }
              - { node: s3, fabric-address: 198.18.1.13 }
          ghost:
            members:
              - { node: s4, fabric-address: 198.18.1.14 }
          only-s3:
            members:
              - { node: s3, fabric-address: 198.18.1.13 }
          tls-a:
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
          tls-b:
            members:
              - { node: s2, fabric-address: 198.18.1.12 }
        %s
        """
        .formatted(
            key,
            VIP,
            VIP,
            VIP,
            VIP,
            VIP,
            VIP,
            webRoots.get("d1"),
            VIP,
            overrides.getOrDefault("d1", ""));
  }

  private String serverConfig(String name, int octet) {
    boolean relay = name.equals("s1");
    String http =
        relay
            ? "- { vip: %s, port: 80, relay: 127.0.0.1:8080 }".formatted(VIP)
            : "- { vip: %s, port: 80, embedded: { app: sample, root: %s } }"
                .formatted(VIP, webRoots.get(name));
    // s3 alone serves port 8081, so s2 refuses those handoffs (the refusal path).
    String picky =
        name.equals("s3")
            ? "- { vip: %s, port: 8081, embedded: { app: sample, root: %s } }"
                .formatted(VIP, webRoots.get(name))
            : "";
    String l4 =
        relay
            ? "- { vip: %s, port: 9000, relay: 127.0.0.1:8080 }".formatted(VIP)
            : "- { vip: %s, port: 9000, embedded: { app: sample, root: %s } }"
                .formatted(VIP, webRoots.get(name));
    return """
        node:
          name: %s
          roles: [server]
          interfaces:
            fabric: { device: fabric, address: 198.18.1.%d }
            sync:   { device: sync,   address: 198.18.2.%d }
        cluster:
          key: %s
        server:
          apply-host-preparation: true
          deliveries:
            %s
            - { vip: %s, port: 443, relay: 127.0.0.1:8443 }
            %s
            %s
        %s
        """
        .formatted(name, octet, octet, key, http, VIP, l4, picky, overrides.getOrDefault(name, ""));
  }

  /** The file's SHA-256, in hex. */
  public static String sha256(Path file) throws Exception {
    java.security.MessageDigest d = java.security.MessageDigest.getInstance("SHA-256");
    try (java.io.InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) d.update(buf, 0, n);
    }
    return java.util.HexFormat.of().formatHex(d.digest());
  }

  /** Copies the first {@code bytes} of {@code from} to {@code to} (an upload body, say). */
  public static Path truncatedCopy(Path from, Path to, long bytes) throws IOException {
    java.nio.file.Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (var ch = java.nio.channels.FileChannel.open(to, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(bytes);
    }
    return to;
  }

  /** Writes {@code bytes} of seeded pseudo-random data: the same file in every lab. */
  public static void writeRandomFile(Path file, int bytes) throws IOException {
    var random = new java.util.Random(42);
    byte[] chunk = new byte[1 << 20];
    try (var out = Files.newOutputStream(file)) {
      for (int left = bytes; left > 0; left -= chunk.length) {
        random.nextBytes(chunk);
        out.write(chunk, 0, Math.min(left, chunk.length));
      }
    }
  }

  /** Waits until the dispatcher's fabric connections to every server are up. */
  private void awaitFabric(Duration limit) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      Map<String, Boolean> state = new LinkedHashMap<>(nodes.get("d1").dispatcher().fabricState());
      state.keySet().retainAll(SERVERS);
      if (state.size() == SERVERS.size() && !state.containsValue(false)) return;
      if (System.nanoTime() > deadline)
        throw new IOException("fabric connections not up: " + state);
      Thread.onSpinWait();
      Thread.sleep(5); // polling interval of a deadline-bounded wait
    }
  }

  /** Runs curl in the client namespace against the VIP; {@code args} follow curl's own options. */
  public CommandResult curl(Duration timeout, String... args) {
    return Curl.from(client, timeout, args);
  }

  public String url(String path) {
    return "http://" + VIP + ":" + HTTP_PORT + path;
  }

  @Override
  public void close() {
    List<FarmNode> reversed = new ArrayList<>(nodes.values());
    java.util.Collections.reverse(reversed);
    for (FarmNode n : reversed) {
      try {
        n.close();
      } catch (RuntimeException e) {
        // keep tearing down
      }
    }
    lab.close();
  }
}
