package io.baton.dispatcher;

import io.baton.config.BatonConfig;
import io.baton.config.MemberConfig;
import io.baton.config.PoolConfig;
import io.baton.config.Role;
import io.baton.config.VipConfig;
import io.baton.dataplane.ForwardingService;
import io.baton.dataplane.ReceiveBuffers;
import io.baton.dataplane.Vip;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.handoff.HandoffServer;
import io.baton.handoff.Liveness;
import io.baton.linux.LinuxException;
import io.baton.routing.BalanceKind;
import io.baton.routing.HashKey;
import io.baton.routing.LoadTable;
import io.baton.routing.Member;
import io.baton.routing.Pool;
import io.baton.routing.Router;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher role of a node: listens on each VIP, reads and routes new connections, hands them
 * to servers over persistent fabric connections, and keeps the forwarding table that carries the
 * clients' later packets to their servers. Built from a {@link BatonConfig}.
 *
 * <p>Thread-safe. Connections run on the event loops of the group passed in.
 */
public final class DispatcherNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DispatcherNode.class);
  public static final String TABLE = "baton_fwd";

  private final ForwardingService forwarding;
  private final Map<String, HandoffClient> clients;
  private final LoadTable load;
  private final DispatcherStats stats = new DispatcherStats();

  /** The UDP VIPs' listeners. */
  private final List<Channel> listeners = new ArrayList<>();

  /** The TCP VIPs' listeners: one per VIP and event loop. */
  private final List<VipListener> vipListeners = new ArrayList<>();

  private final String nodeName;

  /** The loops of the listeners and of the connections they accept. */
  private final EventLoopGroup group;

  /** Each server's session address: where its handoff listener is (shared with discovery). */
  private final Map<String, java.net.InetAddress> serverFabric = new ConcurrentHashMap<>();

  /**
   * Each configured server's fabric addresses, at most one per family, its session address first (a
   * dual-stack server is listed with its IPv4 address in the pools of IPv4 VIPs and its IPv6
   * address in those of IPv6 VIPs).
   */
  private final Map<String, List<java.net.InetAddress>> serverAddressesByNode =
      new ConcurrentHashMap<>();

  private volatile boolean closing;

  /** How long {@link #close} waits for handoffs under way: their handoff and abort deadlines. */
  private Duration drainLimit = Duration.ofSeconds(5);

  /** Servers whose inventory arrived since start. */
  private final java.util.Set<String> inventoried = ConcurrentHashMap.newKeySet();

  /** How long after start adopted entries wait for their server's inventory. */
  static final Duration ADOPTION_WAIT = Duration.ofSeconds(5);

  private DispatcherNode(
      String nodeName,
      ForwardingService forwarding,
      Map<String, HandoffClient> clients,
      LoadTable load,
      EventLoopGroup group) {
    this.nodeName = nodeName;
    this.group = group;
    this.forwarding = forwarding;
    this.clients = clients;
    this.load = load;
  }

  /**
   * Starts the dispatcher: adopts the forwarding table a previous process left (its connections
   * keep flowing; each server's inventory settles the entries when its fabric session comes up),
   * connects to the servers (in the background; a server whose fabric connection is down is
   * skipped), and binds every VIP.
   */
  public static DispatcherNode start(
      BatonConfig config, EventLoopGroup group, HandoffCoordinator.LocalService local)
      throws IOException {
    return start(config, group, local, ServerEligibility.ANY);
  }

  /**
   * As {@link #start(BatonConfig, EventLoopGroup, HandoffCoordinator.LocalService)}, picking only
   * servers that {@code eligibility} (the sync plane's farm state) does not refuse.
   */
  public static DispatcherNode start(
      BatonConfig config,
      EventLoopGroup group,
      HandoffCoordinator.LocalService local,
      ServerEligibility eligibility)
      throws IOException {
    return start(config, group, local, eligibility, null);
  }

  /**
   * As above; with {@code paused} (a planned reload), accepts on those listeners instead of binding
   * its own, once the forwarding table and the fabric are set up.
   */
  public static DispatcherNode start(
      BatonConfig config,
      EventLoopGroup group,
      HandoffCoordinator.LocalService local,
      ServerEligibility eligibility,
      PausedListeners paused)
      throws IOException {
    var node = config.node();
    var front =
        node.front()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "dispatcher " + node.name() + " needs a front interface"));
    // The nftables table carries TCP connections; UDP flows live in the BPF flow map only.
    List<Vip> vips =
        config.vips().stream()
            .filter(v -> v.mode() != io.baton.config.VipMode.UDP)
            .map(v -> new Vip(v.address(), v.port()))
            .toList();
    for (String missing : io.baton.dataplane.FrontVips.awaitUsable(vips, front.device())) {
      log.warn("{}", missing);
    }
    LongSupplier clock = System::nanoTime;
    ForwardingService forwarding;
    try {
      forwarding =
          ForwardingService.start(
              TABLE,
              front.device(),
              node.fabric().device(),
              vips,
              config.timeouts().closeGrace(),
              clock);
    } catch (LinuxException e) {
      throw new IOException(
          "cannot set up the forwarding table on " + front.device() + ": " + e.getMessage(), e);
    }
    try {
      for (String change : io.baton.dataplane.HostPreparation.enableListenerQueueMigration()) {
        log.info(
            "{}: a planned reload (--take-over) moves the connections queued at this process's listeners to the"
                + " next process's instead of resetting them",
            change);
      }
    } catch (IOException e) {
      log.warn(
          "{}: a planned reload (--take-over) would reset the connections queued at this process's listeners",
          e.getMessage());
    }
    String filterProblem = io.baton.linux.SocketFilters.sharedProgramProblem();
    if (filterProblem != null) {
      log.warn(
          "cannot load the shared eBPF drop filter ({}): each handoff compiles a classic socket"
              + " filter instead, which costs more CPU per handoff",
          filterProblem);
    }
    if (forwarding.adoptedCount() > 0) {
      log.info(
          "adopted {} forwarding entries from an earlier dispatcher process",
          forwarding.adoptedCount());
    }
    LoadTable load = new LoadTable();
    Map<String, HandoffClient> clients = new ConcurrentHashMap<>();
    DispatcherNode dispatcher = new DispatcherNode(node.name(), forwarding, clients, load, group);
    try {
      dispatcher.startFlowForwarding(config, front.device(), eligibility);
    } catch (IOException | RuntimeException e) {
      dispatcher.close();
      throw e;
    }
    dispatcher.drainLimit =
        config
            .timeouts()
            .firstByte()
            .plus(config.timeouts().head())
            .plus(config.timeouts().handoff())
            .plus(config.timeouts().fabricDeadAfter())
            .plus(HandoffCoordinator.INSTALL_TIMEOUT.multipliedBy(2));
    Liveness liveness =
        new Liveness(config.timeouts().fabricHeartbeat(), config.timeouts().fabricDeadAfter());
    HandoffCoordinator coordinator =
        new HandoffCoordinator(
            new ClientsFabric(clients),
            forwarding,
            Transplanter.KERNEL,
            load,
            dispatcher.stats,
            clock,
            liveness.deadAfter(),
            eligibility);
    dispatcher.coordinator = coordinator;
    boolean alsoServer = node.roles().contains(Role.SERVER);
    int frameLimit =
        HandoffServer.frameLimitFor(config.limits().maxHeadBytes(), ReceiveBuffers.maxBytes());
    Map<String, Pool> pools = new LinkedHashMap<>();
    Map<String, DiscoveredPools.Discovering> discoveringKinds = new LinkedHashMap<>();
    Map<String, List<java.net.InetAddress>> serverAddresses = new LinkedHashMap<>();
    for (PoolConfig p : config.pools().values()) {
      for (MemberConfig m : p.members()) {
        var known =
            dispatcher.serverAddressesByNode.computeIfAbsent(m.node(), n -> new ArrayList<>());
        if (!known.contains(m.fabricAddress())) known.add(m.fabricAddress());
      }
    }
    // A client for a server first seen in the sync plane's reports (discovering pools).
    dispatcher.discoveredPools =
        new DiscoveredPools(
            node.name(),
            load,
            config.cluster().handoffPort(),
            alsoServer && local != null,
            dispatcher.serverFabric,
            clients,
            m -> newClient(config, group, m, coordinator, load, dispatcher, liveness, frameLimit));
    for (PoolConfig p : config.pools().values()) {
      List<Member> members = new ArrayList<>();
      for (MemberConfig m : p.members()) {
        boolean isLocal = alsoServer && m.node().equals(node.name()) && local != null;
        members.add(
            new Member(
                m.node(),
                new InetSocketAddress(m.fabricAddress(), config.cluster().handoffPort()),
                m.fabricAddress(),
                m.weight(),
                isLocal));
        dispatcher.serverFabric.putIfAbsent(m.node(), m.fabricAddress());
        if (!isLocal && !clients.containsKey(m.node())) {
          serverAddresses.put(m.node(), dispatcher.serverAddressesByNode.get(m.node()));
          clients.put(
              m.node(),
              newClient(config, group, m, coordinator, load, dispatcher, liveness, frameLimit));
        }
      }
      BalanceKind kind =
          switch (p.balance()) {
            case LEAST_CONNECTIONS -> BalanceKind.LEAST_CONNECTIONS;
            case ROUND_ROBIN -> BalanceKind.WEIGHTED_ROUND_ROBIN;
            case HASH -> BalanceKind.CONSISTENT_HASH;
            case LOCALITY -> BalanceKind.LOCALITY;
          };
      HashKey key =
          p.hashKey().map(k -> HashKey.fromConfig(k.configName())).orElse(HashKey.CLIENT_IP);
      if (p.discover()) {
        discoveringKinds.put(p.name(), new DiscoveredPools.Discovering(kind, key));
      } else {
        pools.put(p.name(), Pool.create(p.name(), kind, members, load, key));
      }
    }
    AdmissionControl admission =
        new AdmissionControl(
            config.limits().maxPendingConnections(), config.limits().maxPendingPerClient());
    if (paused != null) {
      // Taking over: connection attempts wait in the listeners' backlog until the fabric is up and
      // the farm's state lets a server of each pool take them, rather than being answered 503 for
      // want of a server session or of a sync view with the servers in it.
      long deadline = System.nanoTime() + TAKE_OVER_FABRIC_WAIT.toNanos();
      awaitFirstSessions(clients, TAKE_OVER_FABRIC_WAIT);
      awaitEligibleServers(pools.values(), eligibility, deadline);
    }
    try {
      // Peer mode: the VIP listeners see only what arrives on the front (BoundInterface).
      int listenerInterface =
          alsoServer && local != null
              ? io.baton.netty.BoundInterface.unbindableIndexOf(front.device())
              : io.baton.netty.BoundInterface.UNBOUND;
      for (VipConfig v : config.vips()) {
        if (v.mode() == io.baton.config.VipMode.UDP) {
          dispatcher.listenUdp(group, v, pools, discoveringKinds);
          continue;
        }
        VipSite site =
            site(
                config,
                v,
                pools,
                dispatcher.discoveredPools.forVip(
                    new Vip(v.address(), v.port()), discoveringKinds));
        FirstRequest.Shared shared =
            new FirstRequest.Shared(
                site, coordinator, dispatcher.stats, admission, config.limits().maxHeaderCount());
        List<VipListener> vipListeners =
            paused != null
                ? paused.take(site.vip())
                : bindPerLoop(
                    site.vip(), eventLoops(group).size(), listenerInterface, v.delayFirstAck());
        dispatcher.vipListeners.addAll(vipListeners);
        dispatcher.clampSegmentsForEncap(config, v, vipListeners);
        accept(group, vipListeners, shared, local, dispatcher.stats);
        log.info("dispatcher {} listens on {} ({})", node.name(), site.vip(), site.mode());
      }
    } catch (IOException | RuntimeException e) {
      dispatcher.close();
      throw e;
    }
    clients.values().forEach(HandoffClient::connect);
    dispatcher.sweepUnreachable(group, serverAddresses, liveness);
    if (dispatcher.udpFlows != null) {
      long periodMs = Math.clamp(config.timeouts().udpFlowIdle().toMillis() / 4, 100, 1000);
      group.scheduleAtFixedRate(
          dispatcher::sweepUdpFlows,
          periodMs,
          periodMs,
          java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    return dispatcher;
  }

  /** Set once at start; its loops' forwarding batches are flushed at close. */
  private HandoffCoordinator coordinator;

  /** The BPF flow map; null where it cannot be attached (logged) and nothing needs it. */
  private io.baton.dataplane.FlowForwarding flowForwarding;

  /** UDP flows of {@code mode: udp} VIPs; null without such VIPs. */
  private UdpFlows udpFlows;

  private KernelUdpFlows kernelUdpFlows;

  /** Fabric addresses of the servers whose pools are forwarded encapsulated. */
  private final java.util.Set<java.net.InetAddress> encapServers = ConcurrentHashMap.newKeySet();

  /**
   * The environment variable that chooses whether a dispatcher forwards by the BPF flow map: {@code
   * auto} (the default) attaches it only where UDP VIPs or encap pools need it, {@code on} wherever
   * the kernel allows (each handoff's forward then goes into the map ahead of its nftables commit:
   * a shorter handoff at light load, but more dispatcher CPU per handoff under load, measured in
   * bench/README.md), {@code off} never (refused where it is needed).
   */
  public static final String FLOW_MAP_VARIABLE = "BATON_FLOW_MAP";

  /**
   * Why {@code value} of {@link #FLOW_MAP_VARIABLE} is not usable, or null. Checked before a node
   * does anything (a {@code --take-over} would otherwise stop the running dispatcher first).
   */
  public static String flowMapProblem(String value) {
    try {
      FlowMap.parse(value);
      return null;
    } catch (IOException e) {
      return e.getMessage();
    }
  }

  /** The settings of {@link #FLOW_MAP_VARIABLE}. */
  enum FlowMap {
    AUTO,
    ON,
    OFF;

    /** {@code value} of {@link #FLOW_MAP_VARIABLE}: unset or empty is {@link #AUTO}. */
    static FlowMap parse(String value) throws IOException {
      if (value == null || value.isEmpty()) return AUTO;
      return switch (value) {
        case "auto" -> AUTO;
        case "on" -> ON;
        case "off" -> OFF;
        default ->
            throw new IOException(
                FLOW_MAP_VARIABLE + " must be auto, on or off, got '" + value + "'");
      };
    }
  }

  private void startFlowForwarding(
      BatonConfig config, String frontDevice, ServerEligibility eligibility) throws IOException {
    for (PoolConfig p : config.pools().values()) {
      if (p.forwarding() == io.baton.config.Forwarding.ENCAP) {
        p.members().forEach(m -> encapServers.add(m.fabricAddress()));
      }
    }
    boolean udp = config.vips().stream().anyMatch(v -> v.mode() == io.baton.config.VipMode.UDP);
    String neededBy =
        udp ? "udp VIPs" : encapServers.isEmpty() ? null : "pools with forwarding: encap";
    boolean needed = neededBy != null;
    var fabric = config.node().fabric();
    // Checked at start already (Baton.main, flowMapProblem): a bad value stops nothing half-done.
    FlowMap setting = FlowMap.parse(System.getenv(FLOW_MAP_VARIABLE));
    if (setting == FlowMap.AUTO && !needed) {
      log.info(
          "no BPF flow map: nftables forwards the handed-off connections, each handoff waits for its"
              + " commit ({}=on puts the forward into the map ahead of it)",
          FLOW_MAP_VARIABLE);
      return;
    }
    if (setting == FlowMap.OFF) {
      if (needed) {
        throw new IOException(
            FLOW_MAP_VARIABLE + "=off, but " + neededBy + " need the BPF flow forwarder");
      }
      log.info(
          "{}=off: no BPF flow map; forwarding by nftables alone, each handoff waits for its commit",
          FLOW_MAP_VARIABLE);
      return;
    }
    if (!needed && !(fabric.address() instanceof java.net.Inet4Address)) {
      log.info(
          "no BPF flow map on an IPv6 fabric: handoffs wait for their nftables commit ({})",
          fabric);
      return;
    }
    try {
      flowForwarding =
          io.baton.dataplane.FlowForwarding.attach(
              frontDevice,
              fabric.device(),
              ipv4Fabric(fabric),
              config.cluster().encapPort(),
              config.cluster().encapCheck());
    } catch (LinuxException e) {
      if (needed) {
        throw new IOException(
            "cannot attach the BPF flow forwarder to "
                + frontDevice
                + " (needed by "
                + neededBy
                + "): "
                + e.getMessage(),
            e);
      }
      log.warn(
          "cannot attach the BPF flow forwarder to {} ({}): forwarding by nftables alone, each"
              + " handoff waits for its commit",
          frontDevice,
          e.getMessage());
      return;
    }
    // Every connection's entry goes into the map, a handoff's ahead of its nftables commit.
    forwarding.mirrorInto(flowForwarding, encapServers::contains);
    if (!encapServers.isEmpty()) {
      log.info(
          "forwarding encapsulated to {} (UDP port {}), the others directly",
          encapServers.stream().map(io.baton.linux.IpText::of).sorted().toList(),
          config.cluster().encapPort());
    }
    if (udp) {
      kernelUdpFlows =
          new KernelUdpFlows(
              flowForwarding,
              ipv4Fabric(fabric),
              config.cluster().encapPort(),
              config.cluster().encapCheck());
      udpFlows =
          new UdpFlows(
              kernelUdpFlows,
              kernelUdpFlows,
              System::nanoTime, // bpf_ktime_get_ns is CLOCK_MONOTONIC, as System.nanoTime here
              config.timeouts().udpFlowIdle(),
              n -> new ClientsFabric(clients).session(n) != FabricPort.NO_SESSION,
              eligibility,
              encapServers::contains);
    }
  }

  /** The node's IPv4 fabric address: the BPF forwarder wraps IPv4 only (the config checks it). */
  private static java.net.Inet4Address ipv4Fabric(io.baton.config.InterfaceConfig fabric)
      throws IOException {
    if (fabric.address() instanceof java.net.Inet4Address v4) return v4;
    throw new IOException(
        "udp VIPs and pools with forwarding: encap need an IPv4 fabric address, not " + fabric);
  }

  private void listenUdp(
      EventLoopGroup group,
      VipConfig v,
      Map<String, Pool> pools,
      Map<String, DiscoveredPools.Discovering> discoveringKinds)
      throws IOException {
    Vip vip = new Vip(v.address(), v.port());
    var discovered = discoveredPools.forVip(vip, discoveringKinds);
    String name = v.defaultPool();
    java.util.function.Supplier<Pool> pool =
        () -> {
          Pool p = pools.get(name);
          if (p != null) return p;
          var ref = discovered.get(name);
          return ref == null ? null : ref.get();
        };
    listeners.add(UdpListener.bind(group, vip, pool, udpFlows));
    log.info("dispatcher {} listens on udp {} (pool {})", nodeName, vip, name);
  }

  private void sweepUdpFlows() {
    if (closing) return;
    try {
      udpFlows.sweep();
    } catch (LinuxException | RuntimeException e) {
      log.warn("cannot sweep idle UDP flows: {}", e.getMessage());
    }
  }

  /** The UDP flows, for metrics and {@code ctl}; null without udp VIPs. */
  public UdpFlows udpFlows() {
    return udpFlows;
  }

  /** The BPF flow forwarder's counters, or null when none is attached. */
  public io.baton.linux.FlowForwarder.Counters flowCounters() {
    if (flowForwarding == null) return null;
    try {
      return flowForwarding.counters();
    } catch (LinuxException e) {
      return null;
    }
  }

  /**
   * Encapsulation adds {@value #ENCAP_OVERHEAD} bytes to each forwarded packet: on a VIP that may
   * hand connections to an encap pool, the listener advertises an MSS for which a full client
   * segment still fits the fabric's MTU once wrapped (routers between would drop it otherwise).
   */
  private void clampSegmentsForEncap(BatonConfig config, VipConfig v, List<VipListener> listeners)
      throws IOException {
    if (encapServers.isEmpty()) return;
    boolean encap =
        java.util.stream.Stream.concat(
                java.util.stream.Stream.of(v.defaultPool()),
                v.rules().stream().map(io.baton.config.RuleConfig::pool))
            .map(config.pools()::get)
            .anyMatch(p -> p != null && p.forwarding() == io.baton.config.Forwarding.ENCAP);
    if (!encap) return;
    int frontMtu = mtu(config.node().front().orElseThrow().device());
    int fabricMtu = mtu(config.node().fabric().device());
    // IPv4: 20 + 20 bytes of headers and 56 of encapsulation; IPv6: 40 + 20 and 84.
    boolean v6 = v.address() instanceof java.net.Inet6Address;
    int headers = v6 ? 60 : 40;
    int overhead = v6 ? io.baton.linux.EncapHeader6.OVERHEAD : ENCAP_OVERHEAD;
    int mss = Math.min(frontMtu - headers, fabricMtu - headers - overhead);
    try {
      for (VipListener l : listeners) {
        io.baton.linux.Sockets.setInt(
            l.fd(),
            io.baton.linux.Sockets.IPPROTO_TCP,
            io.baton.linux.Sockets.TCP_MAXSEG,
            mss,
            "TCP_MAXSEG");
      }
    } catch (LinuxException e) {
      throw new IOException("cannot clamp the MSS of VIP " + v + ": " + e.getMessage(), e);
    }
    log.info(
        "VIP {} hands connections to encapsulated servers: MSS {} (fabric MTU {}, {} bytes of encapsulation)",
        v,
        mss,
        fabricMtu,
        overhead);
  }

  /** Outer IPv4 (20) + UDP (8) + Baton header (28), for an IPv4 packet. */
  static final int ENCAP_OVERHEAD = io.baton.linux.FlowForwarder.OVERHEAD;

  private static int mtu(String device) throws IOException {
    java.nio.file.Path p = java.nio.file.Path.of("/sys/class/net", device, "mtu");
    try {
      return Integer.parseInt(java.nio.file.Files.readString(p).strip());
    } catch (IOException | NumberFormatException e) {
      throw new IOException("cannot read the MTU of " + device + " (" + p + "): " + e, e);
    }
  }

  /**
   * Adopted entries of a server that never comes up would forward its clients into silence forever:
   * once every server had time to connect and send its inventory, drop the entries of those that
   * did not.
   */
  private void sweepUnreachable(
      EventLoopGroup group, Map<String, List<java.net.InetAddress>> servers, Liveness liveness) {
    if (forwarding.adoptedCount() == 0) return;
    long delayMs = ADOPTION_WAIT.toMillis() + liveness.deadAfter().toMillis();
    group.schedule(
        () -> {
          servers.forEach(
              (name, addresses) -> {
                HandoffClient c = clients.get(name);
                if (c != null && !c.isConnected() && !inventoried.contains(name)) {
                  serverLost(name, addresses, "not reachable " + delayMs + " ms after start");
                }
              });
          // Entries of servers that are no longer in the config: nobody will ever settle them.
          java.util.Set<java.net.InetAddress> known = new java.util.HashSet<>();
          servers.values().forEach(known::addAll);
          forwarding.adoptedServers().stream()
              .filter(a -> !known.contains(a))
              .forEach(
                  a ->
                      serverLost(
                          io.baton.linux.IpText.of(a),
                          List.of(a),
                          "not in this dispatcher's config"));
        },
        delayMs,
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /**
   * A server's ownership news from the sync plane (connections other dispatchers handed to it, or
   * this one): each open connection forwards to it here too, so a route change that brings the
   * client to this dispatcher does not cut the connection; each close retires the entry like a
   * CLOSED. Refused (false, nothing changed) unless {@code node} is a server of this dispatcher's
   * pools at the update's fabric address: a node cannot claim connections for another.
   */
  public boolean replicate(io.baton.sync.OwnershipUpdate update) {
    String node = update.node();
    // Peer mode: this node's own connections reach its own stack; an entry would send them away.
    if (node.equals(nodeName)) return true;
    java.net.Inet4Address fabricAddress = update.fabricAddress();
    String refusal = claimRefusal(serverAddressesByNode, serverFabric, node, fabricAddress);
    if (refusal != null) {
      stats.ownershipRefused.increment();
      log.warn(
          "refused ownership news from {} for fabric address {}: {}",
          node,
          fabricAddress.getHostAddress(),
          refusal);
      return false;
    }
    if (closing) return true;
    for (io.baton.sync.OwnershipUpdate.Change c : update.changes()) {
      if (c.open()) {
        forwarding
            .replicate(c.flow(), fabricAddress, c.handoffId())
            .thenAccept(
                changed -> {
                  if (changed) stats.ownershipInstalled.increment();
                });
      } else {
        forwarding
            .retire(c.flow(), fabricAddress, c.handoffId())
            .thenAccept(
                matched -> {
                  if (matched) stats.ownershipRetired.increment();
                });
      }
    }
    return true;
  }

  /**
   * Waits (at most {@code limit}) until the entries of the ownership news received so far are in
   * the kernel: a dispatcher announces its VIPs only once it can forward the farm's established
   * connections. Returns whether they all are.
   */
  public boolean awaitReplication(Duration limit) throws InterruptedException {
    try {
      forwarding.barrier().get(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return false;
    }
  }

  /**
   * Why a claim of {@code node} to own connections at {@code fabricAddress} is refused, or {@code
   * null}: only a server of this dispatcher's pools may claim, and only for its own fabric address
   * (a node cannot make the farm forward another's clients to itself).
   */
  static String claimRefusal(
      Map<String, List<java.net.InetAddress>> configured,
      Map<String, java.net.InetAddress> sessions,
      String node,
      java.net.InetAddress fabricAddress) {
    List<java.net.InetAddress> addresses = configured.get(node);
    if (addresses == null) {
      java.net.InetAddress discovered = sessions.get(node);
      addresses = discovered == null ? null : List.of(discovered);
    }
    if (addresses == null) return "not a server of this dispatcher's pools";
    if (!addresses.contains(fabricAddress))
      return "its configured fabric address is "
          + addresses.stream().map(io.baton.linux.IpText::of).collect(Collectors.joining(" and "));
    return null;
  }

  /** The server is gone: no new handoffs (its session is down) and its clients fail fast. */
  void serverLost(String name, List<java.net.InetAddress> addresses, String why) {
    if (closing) return; // our own stop closed the session; the table stays as it is
    stats.serversLost.increment();
    load.remove(name);
    if (udpFlows != null) {
      int n = udpFlows.serverLost(name);
      if (n > 0) log.warn("server {} is {}: its {} UDP flows are picked afresh", name, why, n);
    }
    for (java.net.InetAddress address : addresses) {
      forwarding
          .dropServer(address)
          .whenComplete(
              (n, error) -> {
                if (error != null) {
                  log.warn(
                      "server {} is {}; cannot remove its forwarding entries: {}",
                      name,
                      why,
                      error.getMessage());
                } else {
                  stats.entriesDroppedWithServers.add(n);
                  log.warn(
                      "server {} is {}: removed its {} forwarding entries (their clients get a reset instead"
                          + " of silence)",
                      name,
                      why,
                      n);
                }
              });
    }
  }

  private static HandoffClient newClient(
      BatonConfig config,
      EventLoopGroup group,
      MemberConfig m,
      HandoffCoordinator coordinator,
      LoadTable load,
      DispatcherNode dispatcher,
      Liveness liveness,
      int frameLimit) {
    var address = new InetSocketAddress(m.fabricAddress(), config.cluster().handoffPort());
    // A configured server's addresses of both families; a discovered one's session address.
    List<java.net.InetAddress> addresses = new ArrayList<>(List.of(m.fabricAddress()));
    for (java.net.InetAddress a :
        dispatcher.serverAddressesByNode.getOrDefault(m.node(), List.of())) {
      if (!addresses.contains(a)) addresses.add(a);
    }
    ServerLink link =
        new ServerLink(
            m.node(),
            addresses,
            coordinator,
            load,
            dispatcher.forwarding,
            dispatcher.stats,
            dispatcher::serverLost,
            () -> dispatcher.inventoried.add(m.node()));
    HandoffClient client =
        new HandoffClient(
            group,
            address,
            config.cluster().key(),
            config.node().name(),
            link,
            Duration.ofSeconds(2),
            frameLimit,
            liveness);
    // System.nanoTime on both sides: the client's stamp and the forwarding table's clock agree.
    link.sessionStartFrom(client::sessionStartNs);
    return client;
  }

  private static VipSite site(
      BatonConfig config,
      VipConfig v,
      Map<String, Pool> allPools,
      Map<String, java.util.concurrent.atomic.AtomicReference<Pool>> discovered) {
    Map<String, Pool> pools = new HashMap<>(allPools);
    Mode mode = Mode.valueOf(v.mode().name());
    return new VipSite(
        new Vip(v.address(), v.port()),
        mode,
        Router.of(v),
        pools,
        config.limits().maxHeadBytes(),
        config.timeouts().firstByte(),
        config.timeouts().head(),
        config.timeouts().handoff(),
        discovered);
  }

  /** The report each node's load was last taken from (the listener sees every snapshot). */
  private final Map<String, io.baton.sync.FarmSnapshot.Heard> lastLoad = new ConcurrentHashMap<>();

  /** Pools whose members the sync plane tells; set at start. */
  private DiscoveredPools discoveredPools;

  /**
   * The farm changed: loads come from the servers' reports, and each discovering pool takes every
   * server of the view that reports serving its VIP port ({@link DiscoveredPools}).
   */
  public void farmChanged(io.baton.sync.FarmSnapshot farm) {
    if (closing) return;
    // The balancers' loads: each server's latest report (every report interval, fresher than the
    // fabric's LOAD_REPORT), adjusted by this dispatcher's handoffs since (LoadTable).
    for (var heard : farm.reports().values()) {
      if (heard != lastLoad.put(heard.report().node(), heard)) {
        load.update(heard.report().node(), heard.report().activeConnections());
      }
    }
    discoveredPools.farmChanged(farm);
  }

  /**
   * The VIPs' listeners of a dispatcher that takes over from a running one (a planned reload):
   * bound next to the old process's (SO_REUSEPORT) before the forwarding table is this process's,
   * but not accepting yet. New connections queue in their backlog: those the kernel hashes to them,
   * and, as the old process closes its listeners, those queued there ({@code
   * net.ipv4.tcp_migrate_req}). {@link #start} with them accepts once it can hand off.
   */
  public static final class PausedListeners implements AutoCloseable {
    private final Map<Vip, List<VipListener>> listeners;

    private PausedListeners(Map<Vip, List<VipListener>> listeners) {
      this.listeners = listeners;
    }

    /**
     * Binds every TCP VIP of {@code config}, one listener per loop of {@code group}, not accepting.
     */
    public static PausedListeners bind(BatonConfig config, EventLoopGroup group)
        throws IOException {
      Map<Vip, List<VipListener>> listeners = new LinkedHashMap<>();
      int loops = eventLoops(group).size();
      try {
        for (VipConfig v : config.vips()) {
          if (v.mode() == io.baton.config.VipMode.UDP) continue;
          Vip vip = new Vip(v.address(), v.port());
          // A planned reload is refused for peer-mode nodes, the only bound listeners.
          listeners.put(
              vip,
              bindPerLoop(vip, loops, io.baton.netty.BoundInterface.UNBOUND, v.delayFirstAck()));
        }
      } catch (IOException | RuntimeException e) {
        listeners.values().forEach(l -> l.forEach(VipListener::close));
        throw e;
      }
      return new PausedListeners(listeners);
    }

    /** The listeners of {@code vip}, now the caller's to accept on and close. */
    List<VipListener> take(Vip vip) {
      List<VipListener> l = listeners.remove(vip);
      if (l == null) throw new IllegalArgumentException("no paused listener for " + vip);
      return l;
    }

    @Override
    public void close() {
      listeners.values().forEach(l -> l.forEach(VipListener::close));
      listeners.clear();
    }
  }

  /** The event loops of {@code group}, in its order. */
  private static List<IoEventLoop> eventLoops(EventLoopGroup group) {
    List<IoEventLoop> loops = new ArrayList<>();
    for (io.netty.util.concurrent.EventExecutor e : group) {
      if (!(e instanceof IoEventLoop loop) || !loop.isCompatible(VipListener.Readiness.class)) {
        throw new IllegalArgumentException("not an epoll event loop: " + e);
      }
      loops.add(loop);
    }
    return loops;
  }

  /** {@code count} listeners of {@code vip} (one per event loop), bound and listening. */
  private static List<VipListener> bindPerLoop(
      Vip vip, int count, int boundInterface, boolean delayFirstAck) throws IOException {
    List<VipListener> bound = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        bound.add(VipListener.bind(vip, boundInterface, delayFirstAck));
      }
    } catch (IOException | RuntimeException e) {
      bound.forEach(VipListener::close);
      throw e;
    }
    return bound;
  }

  /** Starts accepting: the i-th listener on the i-th loop of {@code group}. */
  private static void accept(
      EventLoopGroup group,
      List<VipListener> listeners,
      FirstRequest.Shared shared,
      HandoffCoordinator.LocalService local,
      DispatcherStats stats)
      throws IOException {
    List<IoEventLoop> loops = eventLoops(group);
    VipListener.Acceptor acceptor =
        (loop, c, buffer) ->
            AcceptedConnection.start(loop, c.fd(), c.peer(), shared, local, buffer);
    for (int i = 0; i < listeners.size(); i++) {
      listeners.get(i).accept(loops.get(i % loops.size()), acceptor, stats.acceptFailures);
    }
  }

  /**
   * How long a dispatcher that takes over waits for its fabric sessions before it accepts anyway.
   */
  static final Duration TAKE_OVER_FABRIC_WAIT = Duration.ofSeconds(5);

  private static void awaitFirstSessions(Map<String, HandoffClient> clients, Duration limit) {
    var all =
        clients.values().stream()
            .map(c -> c.connect().exceptionally(e -> null))
            .toArray(java.util.concurrent.CompletableFuture[]::new);
    try {
      java.util.concurrent.CompletableFuture.allOf(all)
          .get(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      log.warn(
          "taking over: not every server's fabric session came up within {} ms; accepting anyway",
          limit.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      log.debug("fabric: {}", e.toString());
    }
  }

  /**
   * Waits until {@code deadline} ({@link System#nanoTime}) for each pool to have a member the
   * farm's state lets take new connections: a dispatcher that joined the sync plane on its own (its
   * join found no cluster in time, and the views merge seconds later) would answer every connection
   * 503 meanwhile. Warns, naming the pools and why, if some have none by then.
   */
  static void awaitEligibleServers(
      java.util.Collection<Pool> pools, ServerEligibility eligibility, long deadline) {
    while (true) {
      List<String> waiting = new ArrayList<>();
      for (Pool p : pools) {
        if (p.members().isEmpty()) continue;
        List<String> refusals = new ArrayList<>();
        for (Member m : p.members()) {
          String refusal =
              m.weight() == 0 ? "weight 0" : m.local() ? null : eligibility.refusal(m.node());
          if (refusal == null) {
            refusals = null;
            break;
          }
          refusals.add(m.node() + ": " + refusal);
        }
        if (refusals != null) waiting.add("pool " + p.name() + " " + refusals);
      }
      if (waiting.isEmpty()) return;
      if (System.nanoTime() - deadline > 0) {
        log.warn(
            "taking over: no server may take new connections yet in {}; accepting anyway (those"
                + " connections are answered 503 until one may)",
            waiting);
        return;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L); // polling, deadline-bounded
    }
  }

  /** Handed-off connections this dispatcher forwards now (its tracked forwarding entries). */
  public int activeConnections() {
    return forwarding.trackedEntries();
  }

  /**
   * Connections each server holds, as this dispatcher knows it (load reports and its own handoffs).
   */
  public java.util.Map<String, Integer> serverConnections() {
    return load.snapshot();
  }

  public DispatcherStats stats() {
    return stats;
  }

  public ForwardingService forwarding() {
    return forwarding;
  }

  /** Fabric connections currently up, by server node. */
  public Map<String, Boolean> fabricState() {
    Map<String, Boolean> state = new LinkedHashMap<>();
    clients.forEach((node, c) -> state.put(node, c.isConnected()));
    return state;
  }

  /** Fabric answers that found no handoff waiting for them. */
  public long fabricLateReplies() {
    return clients.values().stream().mapToLong(HandoffClient::lateReplies).sum();
  }

  /** Fabric sessions closed because a server was silent for the dead-after time. */
  public long fabricSilentPeers() {
    return clients.values().stream().mapToLong(HandoffClient::silentPeers).sum();
  }

  /** Authentication failures seen on fabric connections to servers. */
  public long fabricAuthFailures() {
    return clients.values().stream().mapToLong(HandoffClient::authFailures).sum();
  }

  /**
   * Stops listening and closes the fabric connections. The forwarding table stays in the kernel, so
   * handed-off connections keep flowing; the next dispatcher process adopts it.
   */
  @Override
  public void close() {
    closing = true;
    long t0 = System.nanoTime();
    // A listener's close runs on its loop, after any accept there: every connection it accepted is
    // already counted in its first-request phase when the drain below looks.
    for (VipListener l : vipListeners) l.close();
    for (Channel l : listeners) l.close().awaitUninterruptibly();
    long reading = stats.firstRequestPhase.sum();
    long handing = stats.inFlightHandoffs.sum();
    // Connections still in their first-request phase are handed off (or answered), and handoffs
    // under way finish first: closing the fabric now would leave their outcome unknown and reset
    // clients that a server may already be serving. Bounded by their deadlines.
    long deadline = System.nanoTime() + drainLimit.toNanos();
    while ((stats.inFlightHandoffs.sum() > 0 || stats.firstRequestPhase.sum() > 0)
        && System.nanoTime() < deadline) {
      java.util.concurrent.locks.LockSupport.parkNanos(
          1_000_000L); // polling a deadline-bounded drain
    }
    if (reading + handing > 0 || stats.firstRequestPhase.sum() + stats.inFlightHandoffs.sum() > 0) {
      log.info(
          "stopping: finished {} connections being read and {} handoffs in {} ms ({} and {} left)",
          reading,
          handing,
          (System.nanoTime() - t0) / 1_000_000,
          stats.firstRequestPhase.sum(),
          stats.inFlightHandoffs.sum());
    }
    // The records of the last forwards put ahead, and of the last closes, are held back up to a
    // millisecond: the next dispatcher process adopts only what reached the table.
    if (coordinator != null) coordinator.flushForwarding(java.time.Duration.ofSeconds(2));
    clients.values().forEach(HandoffClient::close);
    if (kernelUdpFlows != null) {
      try {
        kernelUdpFlows.close();
      } catch (IOException e) {
        log.debug("closing the UDP fabric socket: {}", e.toString());
      }
    }
    // The forwarding thread writes into the flow map (a close's removal, a closing entry's
    // expiry) until it stops: the map is closed after it.
    forwarding.close();
    if (flowForwarding != null) flowForwarding.close();
    log.info(
        "stopped in {} ms; the forwarding table stays for the next dispatcher process",
        (System.nanoTime() - t0) / 1_000_000);
  }

  /** {@link HandoffClient}s by server node name, as a {@link FabricPort}. */
  private record ClientsFabric(Map<String, HandoffClient> clients) implements FabricPort {
    @Override
    public long session(String node) {
      HandoffClient c = clients.get(node);
      return c == null ? NO_SESSION : c.session();
    }

    @Override
    public long nextHandoffId(String node) {
      return clients.get(node).nextHandoffId();
    }

    @Override
    public java.util.concurrent.CompletableFuture<io.baton.handoff.HandoffReply> send(
        String node, long session, FabricMessage.Handoff handoff) {
      return clients.get(node).send(handoff, session);
    }

    @Override
    public boolean abort(String node, long handoffId) {
      return clients.get(node).abort(handoffId);
    }

    @Override
    public void forget(String node, long handoffId, String why) {
      clients.get(node).forget(handoffId, why);
    }
  }
}
