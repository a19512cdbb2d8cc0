package io.baton.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Reads the {@code server} section, which a node has exactly when it has role server. Its
 * deliveries are the server's list of served VIPs: each names a VIP address and port and how
 * connections to it reach the application (relay or embedded). If the node also lists {@code vips}
 * (peer mode), every delivery must name one of them.
 *
 * <p>Stateless.
 */
final class ServerBinder {
  private ServerBinder() {}

  static Optional<ServerConfig> bind(
      ConfigField server, NodeConfig node, List<VipConfig> vips, Path baseDirectory)
      throws ConfigException {
    if (!node.hasRole(Role.SERVER)) {
      if (server.isPresent()) {
        throw server.error(
            "only for nodes with role server (this node is " + node.rolesText() + ")");
      }
      return Optional.empty();
    }
    server.required("is required for role server (it lists the deliveries)");
    server.allowKeys("apply-host-preparation", "deliveries", "dispatchers", "health-check");
    ConfigField apply = server.get("apply-host-preparation");
    boolean applyHostPreparation = apply.isPresent() && apply.asBoolean();

    ConfigField deliveriesField =
        server.get("deliveries").required("is required: one per VIP port this server serves");
    List<ConfigField> fields = deliveriesField.list();
    if (fields.isEmpty()) {
      throw deliveriesField.error("must list at least one delivery");
    }
    List<Delivery> deliveries = new ArrayList<>();
    Map<String, String> seen = new HashMap<>();
    for (ConfigField field : fields) {
      Delivery delivery = delivery(field, baseDirectory);
      InetSocketAddress vip = new InetSocketAddress(delivery.vip(), delivery.port());
      boolean udp = delivery instanceof Delivery.Udp;
      if (udp && node.hasRole(Role.DISPATCHER)) {
        // The dispatcher's own socket holds a udp VIP's port to see each flow's first datagram.
        throw field
            .get("udp")
            .error(
                "a node that also dispatches cannot serve a udp VIP itself (peer mode is TCP only):"
                    + " its dispatcher's socket holds the port");
      }
      String earlier = seen.putIfAbsent((udp ? "udp " : "") + vip, field.path());
      if (earlier != null) {
        throw field.get("port").error(text(vip) + " already has a delivery in " + earlier);
      }
      if (!vips.isEmpty()
          && vips.stream()
              .noneMatch(v -> v.socketAddress().equals(vip) && (v.mode() == VipMode.UDP) == udp)) {
        throw field
            .get("port")
            .error(
                text(vip)
                    + " is not one of this node's vips ("
                    + vips.stream()
                        .map(v -> text(v.socketAddress()))
                        .collect(Collectors.joining(", "))
                    + ")");
      }
      deliveries.add(delivery);
    }
    List<InetAddress> dispatchers = new ArrayList<>();
    ConfigField dispatchersField = server.get("dispatchers");
    if (dispatchersField.isPresent()) {
      List<ConfigField> items = dispatchersField.list();
      if (items.isEmpty())
        throw dispatchersField.error("must list at least one fabric address, or be left out");
      for (ConfigField item : items) dispatchers.add(item.asIp());
    }
    return Optional.of(
        new ServerConfig(
            applyHostPreparation,
            deliveries,
            dispatchers,
            healthChecks(server.get("health-check"), deliveries)));
  }

  /**
   * The checks of {@code health-check}, or by default a TCP connect to every relay delivery's
   * application (an embedded application runs in the agent itself: no check).
   */
  private static List<HealthCheckConfig> healthChecks(ConfigField field, List<Delivery> deliveries)
      throws ConfigException {
    if (!field.isPresent()) {
      // A pool of workers is its own judge: one dead worker must not take the node out.
      return deliveries.stream()
          .filter(d -> d instanceof Delivery.Relay r && !r.pooled())
          .map(d -> ((Delivery.Relay) d).upstream())
          .distinct()
          .map(HealthCheckConfig::tcp)
          .toList();
    }
    field.allowKeys("tcp", "http", "path", "interval", "timeout", "fall", "rise");
    ConfigField tcp = field.get("tcp");
    ConfigField http = field.get("http");
    if (tcp.isPresent() == http.isPresent()) {
      throw field.error(
          "give exactly one of tcp (connect to the address) and http (GET a path there)");
    }
    HealthCheckConfig.Kind kind =
        tcp.isPresent() ? HealthCheckConfig.Kind.TCP : HealthCheckConfig.Kind.HTTP;
    InetSocketAddress target = (tcp.isPresent() ? tcp : http).asSocketAddress();
    ConfigField pathField = field.get("path");
    String path = "/";
    if (pathField.isPresent()) {
      if (kind == HealthCheckConfig.Kind.TCP) throw pathField.error("only for http checks");
      path = pathField.asString();
      if (!path.startsWith("/") || !path.chars().allMatch(c -> c > 32 && c < 127)) {
        throw pathField.error(
            "must be an absolute path of visible ASCII characters, like /healthz");
      }
    }
    ConfigField intervalField = field.get("interval");
    Duration interval =
        intervalField.isPresent() ? intervalField.asDuration() : HealthCheckConfig.DEFAULT_INTERVAL;
    ConfigField timeoutField = field.get("timeout");
    Duration timeout =
        timeoutField.isPresent() ? timeoutField.asDuration() : HealthCheckConfig.DEFAULT_TIMEOUT;
    if (timeout.compareTo(interval) > 0) {
      throw (timeoutField.isPresent() ? timeoutField : intervalField)
          .error(
              timeoutField.isPresent()
                  ? "must not exceed interval ("
                      + Durations.format(interval)
                      + "), got "
                      + Durations.format(timeout)
                  : "must be at least timeout ("
                      + Durations.format(timeout)
                      + ", the default), got "
                      + Durations.format(interval));
    }
    ConfigField fall = field.get("fall");
    ConfigField rise = field.get("rise");
    return List.of(
        new HealthCheckConfig(
            kind,
            target,
            path,
            interval,
            timeout,
            fall.isPresent() ? fall.asInt(1, 100) : HealthCheckConfig.DEFAULT_FALL,
            rise.isPresent() ? rise.asInt(1, 100) : HealthCheckConfig.DEFAULT_RISE));
  }

  /**
   * {@code workers: {balance: least-connections|round-robin, members: [{name, address|socket,
   * weight}]}}: addresses are relayed to, sockets are passed the connection.
   */
  private static Delivery workerPool(
      InetAddress vip, int port, ConfigField field, Path baseDirectory, int preconnect)
      throws ConfigException {
    field.allowKeys("balance", "members", "direct");
    String balance = "least-connections";
    ConfigField balanceField = field.get("balance");
    if (balanceField.isPresent()) {
      balance = balanceField.asString();
      if (!balance.equals("least-connections") && !balance.equals("round-robin")) {
        throw balanceField.error("must be least-connections or round-robin, got '" + balance + "'");
      }
    }
    ConfigField membersField = field.get("members").required("is required: the workers' addresses");
    List<Delivery.Worker> members = new ArrayList<>();
    List<Delivery.PassWorker> passed = new ArrayList<>();
    java.util.Set<String> names = new java.util.HashSet<>();
    java.util.Set<Path> sockets = new java.util.HashSet<>();
    for (ConfigField m : membersField.list()) {
      m.allowKeys("name", "address", "socket", "weight");
      String name = m.get("name").required().asName(Names.SIMPLE, Names.SIMPLE_TEXT);
      if (!names.add(name)) throw m.get("name").error("worker '" + name + "' is listed twice");
      ConfigField socketField = m.get("socket");
      if (socketField.isPresent() == m.get("address").isPresent()) {
        throw m.error(
            "give the worker an address (its connections are relayed to it) or a socket (they are"
                + " passed to it), exactly one");
      }
      int weight = m.get("weight").isPresent() ? m.get("weight").asInt(0, 1000) : 1;
      if (socketField.isPresent()) {
        if (!members.isEmpty()) throw socketField.error(MIXED);
        Path socket = baseDirectory.resolve(socketField.asString()).normalize();
        if (socket.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107) {
          throw socketField.error("is longer than a Unix socket path can be (107 bytes)");
        }
        if (!sockets.add(socket)) throw socketField.error("is another worker's socket too");
        passed.add(new Delivery.PassWorker(name, socket, weight));
        continue;
      }
      if (!passed.isEmpty()) throw m.get("address").error(MIXED);
      InetSocketAddress address = m.get("address").required().asSocketAddress();
      if (address.getAddress().equals(vip) && address.getPort() == port) {
        throw m.get("address").error("is the VIP itself; name the worker's own address");
      }
      members.add(new Delivery.Worker(name, address, weight));
    }
    ConfigField directField = field.get("direct");
    if (!passed.isEmpty()) {
      if (directField.isPresent()) {
        throw directField.error(
            "is for workers with addresses: a connection the kernel delivers never reaches the"
                + " agent, so it cannot be passed to a socket");
      }
      return new Delivery.Pass(vip, port, passed, balance);
    }
    if (members.isEmpty()) throw membersField.error("must list at least one worker");
    java.util.Optional<InetSocketAddress> direct = java.util.Optional.empty();
    if (directField.isPresent()) {
      InetSocketAddress d = directField.asSocketAddress();
      if (d.getAddress().equals(vip)) {
        throw directField.error(
            "is the VIP; name this server's own address (the VIP's connections come by handoff)");
      }
      for (Delivery.Worker w : members) {
        if (w.address().equals(d))
          throw directField.error("is worker " + w.name() + "'s own address");
      }
      direct = java.util.Optional.of(d);
    }
    return new Delivery.Relay(
        vip, port, members.get(0).address(), members, balance, direct, preconnect);
  }

  private static final String MIXED =
      "mixes workers with sockets and workers with addresses; a pool is one"
          + " or the other (connections passed, or relayed)";

  private static Delivery delivery(ConfigField field, Path baseDirectory) throws ConfigException {
    field.allowKeys("vip", "port", "relay", "workers", "embedded", "udp", "preconnect");
    InetAddress vip = field.get("vip").required().asIp();
    int port = field.get("port").required().asPort();
    ConfigField preconnectField = field.get("preconnect");
    int preconnect =
        preconnectField.isPresent()
            ? preconnectField.asInt(0, Delivery.Relay.MAX_PRECONNECT)
            : Delivery.Relay.DEFAULT_PRECONNECT;
    Delivery d = delivery(field, vip, port, preconnect, baseDirectory);
    if (preconnectField.isPresent() && !(d instanceof Delivery.Relay)) {
      throw preconnectField.error(
          "is for relayed deliveries (relay:, or workers with addresses): nothing else connects"
              + " to an upstream");
    }
    return d;
  }

  private static Delivery delivery(
      ConfigField field, InetAddress vip, int port, int preconnect, Path baseDirectory)
      throws ConfigException {
    ConfigField udp = field.get("udp");
    if (udp.isPresent()) {
      for (String other : List.of("relay", "workers", "embedded")) {
        if (field.get(other).isPresent()) {
          throw field.get(other).error("a udp delivery has no " + other + " (give udp alone)");
        }
      }
      String service = udp.asString();
      if (!service.equals("local") && !service.equals("echo")) {
        throw udp.error(
            "must be local (a process on this host answers on the VIP itself, e.g. a DNS server)"
                + " or echo (the agent echoes each datagram), got '"
                + service
                + "'");
      }
      return new Delivery.Udp(vip, port, service.equals("echo"));
    }
    ConfigField relay = field.get("relay");
    ConfigField embedded = field.get("embedded");
    ConfigField workers = field.get("workers");
    if (workers.isPresent()) {
      if (relay.isPresent() || embedded.isPresent()) {
        throw workers.error("give one of relay, workers and embedded, not several");
      }
      return workerPool(vip, port, workers, baseDirectory, preconnect);
    }
    if (relay.isPresent() == embedded.isPresent()) {
      throw relay.isPresent()
          ? embedded.error("give one of relay, workers and embedded, not several")
          : field.error(
              "needs relay: ADDRESS:PORT, workers: {members: [...]} or embedded: {app: NAME, root: DIR}");
    }
    if (relay.isPresent()) {
      InetSocketAddress upstream = relay.asSocketAddress();
      if (upstream.getAddress().equals(vip) && upstream.getPort() == port) {
        throw relay.error("relays to the VIP itself; name the application's own address");
      }
      return new Delivery.Relay(vip, port, upstream, preconnect);
    }
    embedded.allowKeys("app", "root", "cache-bytes");
    String app = embedded.get("app").required().asName(Names.SIMPLE, Names.SIMPLE_TEXT);
    Path root = baseDirectory.resolve(embedded.get("root").required().asString()).normalize();
    ConfigField cache = embedded.get("cache-bytes");
    long cacheBytes = cache.isPresent() ? (long) cache.asInt(16 * 1024, Integer.MAX_VALUE) : 0;
    return new Delivery.Embedded(vip, port, app, root, cacheBytes);
  }

  private static String text(InetSocketAddress address) {
    return io.baton.linux.IpText.withPort(address.getAddress(), address.getPort());
  }
}
