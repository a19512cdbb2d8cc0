package io.baton.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.baton.server.MigrationOutcome;
import io.baton.server.ServerAgent;
import io.baton.sync.FarmSnapshot;
import io.baton.sync.SyncPlane;
import io.baton.transplant.FlowKey;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin endpoint, what {@code baton ctl} talks to: HTTP with JSON answers, every request
 * authenticated by the bearer token of {@link AdminToken} (401 otherwise), loopback by default.
 *
 * <pre>
 *  GET  /v1/nodes                         the farm as the sync plane sees it
 *  GET  /v1/connections                   the connections this server serves
 *  POST /v1/migrate?client=IP:PORT&amp;vip=IP:PORT[&amp;to=NODE][&amp;force=true]   move one at its next safe point
 *  POST /v1/drain?deadline-ms=N[&amp;to=NODE][&amp;close-rest=true][&amp;force=true] move all until the deadline (then close the rest)
 * </pre>
 *
 * <p>{@code force=true}: connections without a safe point (l4 and tls relays, applications without
 * one) move too, without their application's state; the operator accepts the risk.
 *
 * <p>Thread-safe; requests run one at a time on the endpoint's own thread.
 */
public final class AdminEndpoint implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdminEndpoint.class);
  private static final ObjectMapper json = new ObjectMapper();

  /** Longest drain an operator may ask for. */
  static final Duration MAX_DRAIN = Duration.ofHours(1);

  private final HttpServer http;
  private final ExecutorService thread;
  private final String token;
  private final String nodeName;
  private final ServerAgent server;
  private final SyncPlane sync;
  private volatile io.baton.dispatcher.DispatcherNode dispatcher;

  private AdminEndpoint(
      HttpServer http,
      ExecutorService thread,
      String token,
      String nodeName,
      ServerAgent server,
      SyncPlane sync) {
    this.http = http;
    this.thread = thread;
    this.token = token;
    this.nodeName = nodeName;
    this.server = server;
    this.sync = sync;
  }

  /**
   * Listens on {@code listen}; {@code server} and {@code sync} may be null (roles the node lacks).
   */
  public static AdminEndpoint start(
      InetSocketAddress listen,
      byte[] clusterKey,
      String nodeName,
      ServerAgent server,
      SyncPlane sync)
      throws IOException {
    HttpServer http;
    try {
      http = HttpServer.create(listen, 16);
    } catch (IOException e) {
      throw new IOException(
          "cannot serve the admin endpoint on "
              + listen
              + ": "
              + e.getMessage()
              + " (admin.listen in the config; 'admin: {enabled: false}' turns it off)",
          e);
    }
    ExecutorService thread =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "baton-admin");
              t.setDaemon(true);
              return t;
            });
    AdminEndpoint a =
        new AdminEndpoint(http, thread, AdminToken.of(clusterKey), nodeName, server, sync);
    http.setExecutor(thread);
    http.createContext("/", a::handle);
    http.start();
    log.info("admin endpoint on {} (baton ctl)", http.getAddress());
    return a;
  }

  /**
   * How this node reloads ({@code POST /v1/reload}, {@code baton ctl reload}): starts the process
   * that takes over from this one and returns its pid; throws {@link IllegalStateException} saying
   * why when this node cannot. Without it, reloads are refused.
   */
  public AdminEndpoint onReload(java.util.function.LongSupplier startSuccessor) {
    this.reload = startSuccessor;
    return this;
  }

  private volatile java.util.function.LongSupplier reload;

  /** Lists the dispatcher's forwarding entries too ({@code connections}). */
  public AdminEndpoint dispatcher(io.baton.dispatcher.DispatcherNode d) {
    this.dispatcher = d;
    this.statsRegistry = null; // the stats page's figures include the dispatcher's from now on
    return this;
  }

  /** Most forwarding entries a listing shows. */
  static final int MAX_LISTED = 100_000;

  public int port() {
    return http.getAddress().getPort();
  }

  private void handle(HttpExchange x) throws IOException {
    boolean streaming = false;
    // Not try-with-resources: that closes the exchange before a catch block could answer.
    try {
      Map<String, String> q = query(x.getRequestURI().getRawQuery());
      // The token as a header (baton ctl) or, for a browser, in the address (the stats page's URL,
      // which baton ctl stats prints; the page passes it on to its event stream).
      String auth = x.getRequestHeaders().getFirst("Authorization");
      String given =
          auth != null && auth.startsWith("Bearer ") ? auth.substring(7).trim() : q.get("token");
      if (given == null || !AdminToken.matches(given, token)) {
        reply(
            x,
            401,
            Map.of(
                "error",
                "missing or wrong token (baton ctl derives it from the config's cluster key;"
                    + " baton ctl stats prints the stats page's address with it)"));
        return;
      }
      String route = x.getRequestMethod() + " " + x.getRequestURI().getPath();
      switch (route) {
        case "GET /stats" -> page(x);
        case "GET /v1/stats" -> reply(x, 200, stats());
        case "GET /v1/stats/events" -> streaming = stream(x);
        case "GET /v1/nodes" -> reply(x, 200, nodes());
        case "GET /v1/process" ->
            reply(x, 200, Map.of("node", nodeName, "pid", ProcessHandle.current().pid()));
        case "POST /v1/reload" -> {
          java.util.function.LongSupplier r = reload;
          if (r == null) {
            throw new IllegalArgumentException(
                "node "
                    + nodeName
                    + " has no planned reload (only a dispatcher that is not also a server has)");
          }
          long successor;
          try {
            successor = r.getAsLong();
          } catch (IllegalStateException e) {
            throw new IllegalArgumentException(e.getMessage());
          }
          reply(
              x,
              200,
              Map.of(
                  "node", nodeName, "pid", ProcessHandle.current().pid(), "successor", successor));
        }
        case "GET /v1/connections" -> reply(x, 200, connections());
        case "POST /v1/migrate" -> migrate(x, q);
        case "POST /v1/drain" -> drain(x, q);
        case "GET /v1/workers" -> reply(x, 200, workers());
        case "POST /v1/workers" -> reply(x, 200, changeWorker(q));
        default -> reply(x, 404, Map.of("error", "no such command: " + route));
      }
    } catch (IllegalArgumentException e) {
      reply(x, 400, Map.of("error", e.getMessage()));
    } catch (RuntimeException e) {
      log.warn("admin request {} failed", x.getRequestURI(), e);
      reply(x, 500, Map.of("error", String.valueOf(e.getMessage())));
    } finally {
      if (!streaming) x.close();
    }
  }

  /** How often the stats page's event stream sends a snapshot. */
  static final Duration STATS_PERIOD = Duration.ofMillis(500);

  /** Most stats pages open at once (each holds a thread while it is open). */
  static final int MAX_STREAMS = 4;

  /** The longest one event stream lasts; the browser reconnects on its own. */
  static final Duration STREAM_LIMIT = Duration.ofMinutes(30);

  private final ExecutorService streams =
      Executors.newFixedThreadPool(
          MAX_STREAMS,
          r -> {
            Thread t = new Thread(r, "baton-admin-stats");
            t.setDaemon(true);
            return t;
          });
  private final java.util.concurrent.atomic.AtomicInteger openStreams =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile io.prometheus.metrics.model.registry.PrometheusRegistry statsRegistry;

  /** The stats page itself: one HTML file with its script and style, nothing from elsewhere. */
  private static void page(HttpExchange x) throws IOException {
    byte[] html;
    try (var in = AdminEndpoint.class.getResourceAsStream("stats.html")) {
      if (in == null) throw new IllegalStateException("stats.html is missing from the jar");
      html = in.readAllBytes();
    }
    x.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
    x.getResponseHeaders().set("Cache-Control", "no-store");
    x.sendResponseHeaders(200, html.length);
    x.getResponseBody().write(html);
  }

  /** What the stats page shows now ({@link StatsFeed}). */
  private Map<String, Object> stats() {
    var registry = statsRegistry;
    if (registry == null) {
      registry = MetricsEndpoint.registry(dispatcher, server, sync);
      statsRegistry = registry;
    }
    List<String> roles = new ArrayList<>();
    if (dispatcher != null) roles.add("dispatcher");
    if (server != null) roles.add("server");
    return StatsFeed.snapshot(nodeName, roles, registry, sync == null ? null : nodes());
  }

  /**
   * Server-sent events: a snapshot every {@link #STATS_PERIOD} on a thread of its own until the
   * browser goes; true when the exchange was handed to that thread.
   */
  private boolean stream(HttpExchange x) throws IOException {
    if (openStreams.incrementAndGet() > MAX_STREAMS) {
      openStreams.decrementAndGet();
      reply(
          x,
          503,
          Map.of("error", "already " + MAX_STREAMS + " stats pages open on node " + nodeName));
      return false;
    }
    x.getResponseHeaders().set("Content-Type", "text/event-stream");
    x.getResponseHeaders().set("Cache-Control", "no-store");
    x.sendResponseHeaders(200, 0);
    try {
      streams.execute(
          () -> {
            long end = System.nanoTime() + STREAM_LIMIT.toNanos();
            try (var body = x.getResponseBody()) {
              while (System.nanoTime() < end) {
                body.write(
                    ("data: " + json.writeValueAsString(stats()) + "\n\n")
                        .getBytes(StandardCharsets.UTF_8));
                body.flush();
                Thread.sleep(STATS_PERIOD.toMillis()); // the stream's pace, not a synchronisation
              }
            } catch (IOException e) {
              log.debug("stats page gone: {}", e.getMessage());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
              log.warn("stats stream failed", e);
            } finally {
              openStreams.decrementAndGet();
              x.close();
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      openStreams.decrementAndGet();
      x.close();
    }
    return true;
  }

  /** Every worker of every pool on this server. */
  private Map<String, Object> workers() {
    requireServer();
    List<Map<String, Object>> rows = new ArrayList<>();
    for (var pool : server.workerPools()) rows.addAll(pool.describe());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", nodeName);
    out.put("workers", rows);
    return out;
  }

  /**
   * {@code worker=NAME} and one of {@code weight=N}, {@code drain=true|false}, {@code
   * add=ADDRESS:PORT|/SOCKET/PATH} (with an optional weight) or {@code remove=true}, in the pool of
   * {@code vip=ADDRESS:PORT} (optional when the server has one pool).
   */
  private Map<String, Object> changeWorker(Map<String, String> q) {
    requireServer();
    var pools = server.workerPools();
    if (pools.isEmpty())
      throw new IllegalArgumentException("node " + nodeName + " has no pool of workers");
    String vip = q.get("vip");
    var pool =
        vip == null
            ? (pools.size() == 1 ? pools.get(0) : null)
            : pools.stream().filter(p -> p.name().equals(vip)).findFirst().orElse(null);
    if (pool == null) {
      throw new IllegalArgumentException(
          vip == null
              ? "this server has several pools: say which with vip=ADDRESS:PORT"
              : "no pool for VIP "
                  + vip
                  + " (pools: "
                  + pools.stream().map(p -> p.name()).toList()
                  + ")");
    }
    String worker = q.get("worker");
    if (worker == null) throw new IllegalArgumentException("worker=NAME is required");
    int actions =
        (q.containsKey("weight") && !q.containsKey("add") ? 1 : 0)
            + (q.containsKey("drain") ? 1 : 0)
            + (q.containsKey("add") ? 1 : 0)
            + (q.containsKey("remove") ? 1 : 0);
    if (actions != 1) {
      throw new IllegalArgumentException(
          "give one of weight=N, drain=true|false, add=ADDRESS:PORT|SOCKET-PATH [weight=N] and remove=true");
    }
    if (q.containsKey("add")) {
      int weight = q.containsKey("weight") ? Integer.parseInt(q.get("weight")) : 1;
      String target = q.get("add");
      if (target.startsWith("/")) {
        if (target.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
            > io.baton.linux.UnixSockets.MAX_PATH_BYTES) {
          throw new IllegalArgumentException("a Unix socket path is at most 107 bytes: " + target);
        }
        pool.add(worker, java.nio.file.Path.of(target).normalize(), weight);
      } else {
        pool.add(worker, address(q, "add"), weight);
      }
    } else if (q.containsKey("remove")) {
      pool.remove(worker);
    } else if (q.containsKey("weight")) {
      int weight;
      try {
        weight = Integer.parseInt(q.get("weight"));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "weight must be a number 0..1000, got '" + q.get("weight") + "'");
      }
      pool.setWeight(worker, weight);
    } else {
      pool.setDraining(worker, flag(q, "drain"));
    }
    log.info("worker {} of {} changed: {}", worker, pool.name(), q);
    return workers();
  }

  private Map<String, Object> nodes() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", nodeName);
    if (sync == null) {
      out.put("error", "this node has no sync plane: it knows no farm");
      return out;
    }
    FarmSnapshot farm = sync.farm().snapshot();
    long now = System.nanoTime();
    List<Map<String, Object>> nodes = new ArrayList<>();
    for (String n : new java.util.TreeSet<>(sync.farm().knownNodes())) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("node", n);
      m.put("inView", farm.view().contains(n));
      var r = farm.report(n);
      if (r != null) {
        m.put("roles", r.roles());
        m.put("fabric", r.fabricAddress().getHostAddress());
        m.put("active", r.activeConnections());
        m.put("handoffsPerSecond", r.handoffsPerSecond());
        m.put("healthy", r.healthy());
        m.put("draining", r.draining());
      }
      String refusal = farm.refusal(n, now);
      m.put("eligible", refusal == null);
      if (refusal != null) m.put("why", refusal);
      nodes.add(m);
    }
    out.put("nodes", nodes);
    return out;
  }

  private Map<String, Object> connections() {
    if (server == null && dispatcher == null)
      throw new IllegalArgumentException(
          "node " + nodeName + " is neither a server nor a dispatcher");
    long now = System.currentTimeMillis();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", nodeName);
    if (server != null) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (ServerAgent.Served s : server.served()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vip", io.baton.linux.IpText.withPort(s.flow().localIp(), s.flow().localPort()));
        m.put("client", io.baton.linux.IpText.withPort(s.flow().clientIp(), s.flow().clientPort()));
        m.put("from", s.from());
        m.put("handoffId", s.handoffId());
        m.put("ageMs", now - s.sinceMs());
        m.put("bytesIn", s.bytesIn());
        m.put("bytesOut", s.bytesOut());
        m.put("summary", s.summary());
        list.add(m);
      }
      out.put("connections", list);
    }
    if (dispatcher != null) {
      List<Map<String, Object>> list = new ArrayList<>();
      try {
        for (var e : dispatcher.forwarding().list(MAX_LISTED).get(10, TimeUnit.SECONDS)) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("vip", io.baton.linux.IpText.withPort(e.flow().localIp(), e.flow().localPort()));
          m.put("client", e.flow().clientIp().getHostAddress() + ":" + e.flow().clientPort());
          m.put("server", e.server().getHostAddress());
          m.put("ageMs", e.ageNs() / 1_000_000);
          list.add(m);
        }
      } catch (Exception e) {
        throw new IllegalStateException("cannot list the forwarding table: " + e, e);
      }
      out.put("forwarded", list);
      var udp = dispatcher.udpFlows();
      if (udp != null) {
        List<Map<String, Object>> flows = new ArrayList<>();
        long nowNs = System.nanoTime();
        for (var e : udp.list(MAX_LISTED)) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("vip", e.flow().vip().toString());
          m.put("client", io.baton.linux.IpText.withPort(e.flow().client(), e.flow().clientPort()));
          m.put("server", e.assignment().node());
          m.put("ageMs", (nowNs - e.assignment().assignedNs()) / 1_000_000);
          flows.add(m);
        }
        out.put("udpFlows", flows);
      }
    }
    return out;
  }

  private void migrate(HttpExchange x, Map<String, String> q) throws IOException {
    requireServer();
    InetSocketAddress client = address(q, "client");
    InetSocketAddress vip = address(q, "vip");
    FlowKey flow =
        new FlowKey(
            (Inet4Address) client.getAddress(),
            client.getPort(),
            (Inet4Address) vip.getAddress(),
            vip.getPort());
    MigrationOutcome o;
    try {
      o = server.migrator().migrate(flow, q.get("to"), flag(q, "force")).get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      reply(x, 409, Map.of("error", String.valueOf(e.getCause().getMessage())));
      return;
    } catch (Exception e) {
      reply(x, 500, Map.of("error", e.toString()));
      return;
    }
    reply(x, 200, outcome(o));
  }

  private void drain(HttpExchange x, Map<String, String> q) throws IOException {
    requireServer();
    long ms;
    try {
      ms = Long.parseLong(q.getOrDefault("deadline-ms", "30000"));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("deadline-ms is not a number: " + q.get("deadline-ms"));
    }
    if (ms <= 0 || ms > MAX_DRAIN.toMillis()) {
      throw new IllegalArgumentException(
          "deadline-ms must be between 1 and " + MAX_DRAIN.toMillis());
    }
    boolean force = flag(q, "force");
    boolean closeRest = flag(q, "close-rest");
    long t0 = System.nanoTime();
    List<MigrationOutcome> outcomes;
    try {
      outcomes =
          server
              .migrator()
              .migrateAll(q.get("to"), Duration.ofMillis(ms), force)
              .get(ms + 30_000, TimeUnit.MILLISECONDS);
      if (closeRest) {
        outcomes = server.migrator().closeRest(outcomes).get(30, TimeUnit.SECONDS);
      }
    } catch (Exception e) {
      reply(x, 500, Map.of("error", e.toString()));
      return;
    }
    Map<String, Long> counts = new HashMap<>();
    List<Map<String, Object>> each = new ArrayList<>();
    for (MigrationOutcome o : outcomes) {
      counts.merge(o.outcome(), 1L, Long::sum);
      each.add(outcome(o));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", nodeName);
    out.put("moved", counts.getOrDefault("moved", 0L));
    out.put("stayed", counts.getOrDefault("stayed", 0L));
    out.put("lost", counts.getOrDefault("lost", 0L));
    out.put("closed", counts.getOrDefault("closed", 0L));
    out.put("tookMs", (System.nanoTime() - t0) / 1_000_000);
    out.put("remaining", server.served().size());
    out.put("connections", each);
    reply(x, 200, out);
  }

  private static Map<String, Object> outcome(MigrationOutcome o) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("client", o.flow().clientIp().getHostAddress() + ":" + o.flow().clientPort());
    m.put("vip", o.flow().localIp().getHostAddress() + ":" + o.flow().localPort());
    m.put("to", o.target());
    m.put("outcome", o.outcome());
    if (!o.detail().isEmpty()) m.put("detail", o.detail());
    m.put("safePointMicros", o.waitedMicros());
    m.put("moveMicros", o.movedMicros());
    return m;
  }

  private void requireServer() {
    if (server == null) throw new IllegalArgumentException("node " + nodeName + " is not a server");
  }

  private static InetSocketAddress address(Map<String, String> q, String name) {
    String v = q.get(name);
    if (v == null) throw new IllegalArgumentException("missing " + name + "=IP:PORT");
    int colon = v.lastIndexOf(':');
    try {
      InetAddress a = InetAddress.ofLiteral(v.substring(0, colon));
      int port = Integer.parseInt(v.substring(colon + 1));
      if (!(a instanceof Inet4Address) || port < 1 || port > 65535)
        throw new IllegalArgumentException();
      return new InetSocketAddress(a, port);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(name + " is not an IPv4 IP:PORT: " + v);
    }
  }

  /** A true/false parameter, false when absent; anything else is refused. */
  private static boolean flag(Map<String, String> q, String name) {
    String v = q.getOrDefault(name, "false");
    if (!v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException(name + " must be true or false, not " + v);
    }
    return v.equals("true");
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> q = new HashMap<>();
    if (raw == null || raw.isEmpty()) return q;
    for (String kv : raw.split("&")) {
      int eq = kv.indexOf('=');
      if (eq <= 0) continue;
      q.put(
          URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8),
          URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return q;
  }

  private static void reply(HttpExchange x, int status, Object body) throws IOException {
    byte[] bytes = json.writerWithDefaultPrettyPrinter().writeValueAsBytes(body);
    x.getResponseHeaders().set("Content-Type", "application/json");
    x.sendResponseHeaders(status, bytes.length);
    x.getResponseBody().write(bytes);
  }

  @Override
  public void close() {
    http.stop(0);
    thread.shutdownNow();
    streams.shutdownNow();
  }
}
