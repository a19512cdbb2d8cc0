package io.baton.server;

import io.baton.app.ContentCache;
import io.baton.app.SampleApp;
import io.baton.config.BatonConfig;
import io.baton.dataplane.HostPreparation;
import io.baton.dataplane.ReceiveBuffers;
import io.baton.dataplane.Vip;
import io.baton.dataplane.VipGuard;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffServer;
import io.baton.handoff.Liveness;
import io.baton.server.delivery.Delivery;
import io.baton.server.delivery.EmbeddedDelivery;
import io.baton.server.delivery.PassingDelivery;
import io.baton.server.delivery.RelayDelivery;
import io.baton.server.delivery.RerouteGate;
import io.baton.server.workers.DirectDnat;
import io.baton.transplant.FlowKey;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server agent: takes handed-off connections over the fabric, restores each as a local socket
 * bound to the VIP, and gives it to the application configured for that VIP and port (relay to an
 * unmodified upstream, or an embedded Java app). Reports every connection's end (CLOSED) and its
 * load to the dispatchers.
 *
 * <p>Before it listens it checks the host (VIP on lo, ARP and reverse-path settings; applies them
 * when configured to) and installs the {@link VipGuard}, so early packets of a connection in
 * transit are dropped and retransmitted rather than reset.
 *
 * <p>Thread-safe. Handoffs are restored on the fabric event loop that received them.
 */
public final class ServerAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServerAgent.class);
  private static final long LOAD_REPORT_PERIOD_MS = 1000;

  /** How long a migration waits for a connection's safe point before it leaves it here. */
  static final java.time.Duration MIGRATION_SAFE_POINT_TIMEOUT = java.time.Duration.ofSeconds(5);

  private final String nodeName;
  private final Map<String, Delivery> deliveries;
  private final PeerDelivery peer;
  private final HandoffAcceptor acceptor;
  private final ExecutorService guardThread;
  private final VipGuard guard;
  private final HandoffServer fabric;
  private final AtomicInteger active;
  private final Migrator migrator;

  /** What per-request routing did, for the metrics. */
  private volatile RerouteGate.Counters reroutes = new RerouteGate.Counters();

  /** The sample app's object caches, for the metrics. */
  private volatile List<ContentCache> caches = List.of();

  /** The worker pools of pooled relay deliveries. */
  private volatile List<io.baton.server.workers.WorkerPool> workerPools = List.of();

  /** Holds back close reports until the kernel is done with the connection. */
  private volatile KernelRelease drains = KernelRelease.IMMEDIATE;

  /** The kernel's DNAT to the workers of pools with a direct address; null without. */
  private volatile DirectDnat directDnat;

  /** Unwraps encapsulated client packets arriving on the fabric (tc program); null until start. */
  private volatile io.baton.linux.EncapReceiver decap;

  /** The agent's own UDP echo services ({@code udp: echo}). */
  private final List<io.netty.channel.Channel> udpEchoes =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private final ScheduledFuture<?> reporter;

  private ServerAgent(
      String nodeName,
      Map<String, Delivery> deliveries,
      Map<String, PeerDelivery.Target> peerTargets,
      int maxConnections,
      AtomicInteger active,
      HandoffAcceptor acceptor,
      ExecutorService guardThread,
      VipGuard guard,
      HandoffServer fabric,
      EventLoopGroup group,
      Migrator migrator) {
    this.nodeName = nodeName;
    this.migrator = migrator;
    acceptor.onRestored = migrator::restored;
    acceptor.settling = migrator::settling;
    acceptor.anyMoving = migrator::anyMoving;
    this.deliveries = deliveries;
    this.active = active;
    this.acceptor = acceptor;
    this.peer = new PeerDelivery(peerTargets, active, maxConnections);
    acceptor.alsoOwned = peer::localOwned;
    this.guardThread = guardThread;
    this.guard = guard;
    this.fabric = fabric;
    this.reporter =
        group
            .next()
            .scheduleAtFixedRate(
                this::reportLoad,
                LOAD_REPORT_PERIOD_MS,
                LOAD_REPORT_PERIOD_MS,
                TimeUnit.MILLISECONDS);
  }

  /**
   * Checks (or applies) the host preparation, installs the guard, and starts listening for handoffs
   * on the fabric address.
   *
   * @throws HostNotReadyException listing every problem when the host is not prepared
   */
  public static ServerAgent start(BatonConfig config, EventLoopGroup group) throws IOException {
    var server =
        config
            .server()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "node " + config.node().name() + " has no server section"));
    String fabricDevice = config.node().fabric().device();
    Set<java.net.InetAddress> vipAddresses = new LinkedHashSet<>();
    Set<Vip> vips = new LinkedHashSet<>();
    Map<String, Delivery> deliveries = new HashMap<>();
    Map<String, PeerDelivery.Target> peerTargets = new HashMap<>();
    List<ContentCache> caches = new java.util.ArrayList<>();
    List<io.baton.server.workers.WorkerPool> workerPools = new java.util.ArrayList<>();
    Map<InetSocketAddress, io.baton.server.workers.WorkerPool> directPools =
        new java.util.LinkedHashMap<>();
    List<Vip> udpEchoes = new java.util.ArrayList<>();
    Migrator[] migratorRef = new Migrator[1];
    RerouteGate.Counters reroutes = new RerouteGate.Counters();
    for (io.baton.config.Delivery d : server.deliveries()) {
      java.util.Optional<PoolPlacement> placement = placement(config, d, () -> migratorRef[0]);
      vipAddresses.add(d.vip());
      Vip vip = new Vip(d.vip(), d.port());
      if (d instanceof io.baton.config.Delivery.Udp u) {
        // No handoff, no guard (the guard is for TCP): only the VIP on lo, and maybe the echo.
        if (u.echo()) udpEchoes.add(vip);
        continue;
      }
      vips.add(vip);
      switch (d) {
        case io.baton.config.Delivery.Relay r -> {
          if (placement.isPresent()) {
            throw new IllegalArgumentException(
                "VIP "
                    + vip
                    + " routes every request (reroute: per-request), but this"
                    + " server relays it to "
                    + r.upstream()
                    + ": a relay does not reroute requests (it moves between"
                    + " requests only when drained or told to); use an embedded application or reroute: first-request");
          }
          // Following HTTP gives relayed connections a safe point (between requests) to move at;
          // unless this config says the VIP is tls or l4 (a stream that is not HTTP/1.x is
          // followed no further than its first bytes anyway).
          boolean followHttp =
              config.vips().stream()
                  .noneMatch(
                      v ->
                          v.address().equals(d.vip())
                              && v.port() == d.port()
                              && v.mode() != io.baton.config.VipMode.HTTP);
          if (r.pooled()) {
            if (config.node().hasRole(io.baton.config.Role.DISPATCHER)) {
              throw new IllegalArgumentException(
                  "VIP "
                      + vip
                      + " has a pool of workers, but this node also dispatches"
                      + " (peer mode): the connections it serves itself would reach only one worker; use relay: here");
            }
            var pool =
                new io.baton.server.workers.WorkerPool(
                    vip.toString(),
                    io.baton.server.workers.WorkerPool.Balance.of(r.balance()),
                    System::nanoTime);
            for (io.baton.config.Delivery.Worker w : r.workers())
              pool.add(w.name(), w.address(), w.weight());
            workerPools.add(pool);
            if (r.direct().isPresent() && directPools.putIfAbsent(r.direct().get(), pool) != null) {
              throw new IllegalArgumentException(
                  "two pools name " + r.direct().get() + " as their direct address");
            }
            deliveries.put(
                vip.toString(),
                new RelayDelivery(
                    group,
                    pool,
                    "workers of " + vip,
                    RelayDelivery.DEFAULT_CONNECT_TIMEOUT,
                    config.timeouts().idle(),
                    followHttp,
                    r.preconnect()));
          } else {
            deliveries.put(
                vip.toString(),
                new RelayDelivery(
                    group,
                    r.upstream(),
                    RelayDelivery.DEFAULT_CONNECT_TIMEOUT,
                    config.timeouts().idle(),
                    followHttp,
                    r.preconnect()));
          }
          peerTargets.put(vip.toString(), new PeerDelivery.Relay(r.upstream()));
        }
        case io.baton.config.Delivery.Pass p -> {
          if (placement.isPresent()) {
            throw new IllegalArgumentException(
                "VIP "
                    + vip
                    + " routes every request (reroute: per-request), but this"
                    + " server passes its connections to workers, which own them from then on; use reroute: first-request");
          }
          if (config.node().hasRole(io.baton.config.Role.DISPATCHER)) {
            throw new IllegalArgumentException(
                "VIP "
                    + vip
                    + " passes connections to workers, but this node also"
                    + " dispatches (peer mode): the connections it serves itself could not be passed; use relay: here");
          }
          var pool =
              new io.baton.server.workers.WorkerPool(
                  vip.toString(),
                  io.baton.server.workers.WorkerPool.Balance.of(p.balance()),
                  System::nanoTime);
          for (io.baton.config.Delivery.PassWorker w : p.workers())
            pool.add(w.name(), w.socket(), w.weight());
          workerPools.add(pool);
          deliveries.put(vip.toString(), new PassingDelivery(group, pool, "workers of " + vip));
        }
        case io.baton.config.Delivery.Embedded e -> {
          ContentCache cache = e.cacheBytes() > 0 ? new ContentCache(e.cacheBytes()) : null;
          if (cache != null) caches.add(cache);
          var app = new SampleApp(e.root(), config.node().name(), cache).initializer();
          int maxHead = config.limits().maxHeadBytes();
          deliveries.put(
              vip.toString(),
              new EmbeddedDelivery(
                  group,
                  app,
                  config.timeouts().idle(),
                  placement
                      .<java.util.function.Function<FlowKey, RerouteGate>>map(
                          p -> flow -> new RerouteGate(p, flow, maxHead, reroutes))
                      .orElse(null)));
          peerTargets.put(vip.toString(), new PeerDelivery.Embedded(app));
        }
        case io.baton.config.Delivery.Udp u -> throw new AssertionError("handled above");
      }
    }
    if (server.applyHostPreparation()) {
      for (String change : HostPreparation.apply(vipAddresses, fabricDevice)) {
        log.info("host preparation: {}", change);
      }
    }
    if (server.applyHostPreparation()) {
      for (String change : DirectDnat.apply(directPools)) log.info("host preparation: {}", change);
    }
    List<String> problems =
        new java.util.ArrayList<>(HostPreparation.check(vipAddresses, fabricDevice));
    problems.addAll(DirectDnat.check(directPools));
    if (!problems.isEmpty()) throw new HostNotReadyException(problems);
    DirectDnat direct = directPools.isEmpty() ? null : DirectDnat.start(directPools);
    if (direct == null) DirectDnat.removeStale();

    ExecutorService guardThread =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "baton-guard");
              t.setDaemon(true);
              return t;
            });
    VipGuard guard;
    try {
      guard = guardThread.submit(() -> VipGuard.install(VipGuard.DEFAULT_TABLE, vips)).get();
    } catch (Exception e) {
      guardThread.shutdownNow();
      if (direct != null) direct.close();
      throw new IOException("cannot install the VIP guard: " + rootMessage(e), e);
    }
    var bind =
        new InetSocketAddress(config.node().fabric().address(), config.cluster().handoffPort());
    List<String> internal = new java.util.ArrayList<>(List.of(fabricDevice));
    config.node().sync().ifPresent(sy -> internal.add(sy.device()));
    AtomicInteger active = new AtomicInteger();
    HandoffServer[] fabricRef = new HandoffServer[1];
    HandoffAcceptor acceptor =
        new HandoffAcceptor(
            config.node().name(),
            deliveries,
            config.limits().maxConnections(),
            active,
            ClientAddressPolicy.ofDevices(internal),
            (dispatcher, closedMessage) -> fabricRef[0].sendTo(dispatcher, closedMessage));
    // Opened here, in the agent's network namespace, where the restored sockets live.
    SocketDrainWatch drains;
    try {
      drains = SocketDrainWatch.open(config.timeouts().idle());
    } catch (io.baton.linux.LinuxException e) {
      if (direct != null) direct.close();
      removeGuard(guardThread, guard);
      throw new IOException(
          "cannot watch closed connections (NETLINK_SOCK_DIAG): " + e.getMessage(), e);
    }
    acceptor.release = drains;
    HandoffServer fabric;
    try {
      fabric =
          new HandoffServer(
              group,
              bind,
              config.cluster().key(),
              config.node().name(),
              acceptor,
              HandoffServer.frameLimitFor(
                  config.limits().maxHeadBytes(), ReceiveBuffers.maxBytes()),
              new Liveness(
                  config.timeouts().fabricHeartbeat(), config.timeouts().fabricDeadAfter()));
    } catch (Exception | Error e) {
      drains.close();
      throw e;
    }
    fabricRef[0] = fabric;
    fabric.allowPeers(DispatcherPolicy.of(server.dispatchers(), fabricDevice));
    int frameLimit =
        HandoffServer.frameLimitFor(config.limits().maxHeadBytes(), ReceiveBuffers.maxBytes());
    Migrator migrator;
    try {
      migrator =
          new Migrator(
              config.node().name(),
              group,
              config.cluster().key(),
              config.cluster().handoffPort(),
              frameLimit,
              new Liveness(
                  config.timeouts().fabricHeartbeat(), config.timeouts().fabricDeadAfter()),
              fabricDevice,
              vips,
              acceptor.live,
              MIGRATION_SAFE_POINT_TIMEOUT,
              config.timeouts().handoff());
    } catch (io.baton.linux.LinuxException | RuntimeException e) {
      fabric.close();
      drains.close();
      if (direct != null) direct.close();
      removeGuard(guardThread, guard);
      throw new IOException(
          "cannot set up live migration (forwarding table "
              + Migrator.TABLE
              + " on "
              + fabricDevice
              + "): "
              + e.getMessage(),
          e);
    }
    migratorRef[0] = migrator;
    ServerAgent agent =
        new ServerAgent(
            config.node().name(),
            deliveries,
            peerTargets,
            config.limits().maxConnections(),
            active,
            acceptor,
            guardThread,
            guard,
            fabric,
            group,
            migrator);
    agent.reroutes = reroutes;
    agent.caches = List.copyOf(caches);
    agent.workerPools = List.copyOf(workerPools);
    agent.directDnat = direct;
    agent.drains = drains;
    agent.peer.release = drains;
    try {
      // Always: pools forwarded encap send every packet this way, and every UDP flow's first
      // datagram comes this way whatever its pool's forwarding.
      agent.decap =
          io.baton.linux.EncapReceiver.attach(
              fabricDevice, config.cluster().encapPort(), config.cluster().encapCheck());
      for (Vip v : udpEchoes) agent.udpEchoes.add(UdpEcho.bind(group, v));
    } catch (IOException e) {
      agent.close();
      throw new IOException(
          "cannot take encapsulated packets on "
              + fabricDevice
              + " (UDP port "
              + config.cluster().encapPort()
              + "): "
              + e.getMessage(),
          e);
    }
    try {
      fabric.start();
    } catch (Exception e) {
      agent.close();
      throw new IOException("cannot listen for handoffs on " + bind + ": " + rootMessage(e), e);
    }
    log.info("server {} takes handoffs on {} for {}", agent.nodeName, fabric.localAddress(), vips);
    return agent;
  }

  /**
   * Per-request routing of a delivery's VIP ({@code reroute: per-request} on the VIP in this node's
   * config), with the members of the config's pools.
   */
  private static java.util.Optional<PoolPlacement> placement(
      BatonConfig config,
      io.baton.config.Delivery d,
      java.util.function.Supplier<Migrator> migrator) {
    return config.vips().stream()
        .filter(
            v ->
                v.address().equals(d.vip())
                    && v.port() == d.port()
                    && v.reroute() == io.baton.config.Reroute.PER_REQUEST)
        .findFirst()
        .map(
            v -> {
              Map<String, Set<String>> members = new HashMap<>();
              config
                  .pools()
                  .forEach(
                      (name, pool) -> {
                        if (!pool.discover()) {
                          members.put(
                              name,
                              pool.members().stream()
                                  .map(io.baton.config.MemberConfig::node)
                                  .collect(java.util.stream.Collectors.toSet()));
                        }
                      });
              return new PoolPlacement(
                  config.node().name(), io.baton.routing.Router.of(v), members, migrator);
            });
  }

  /**
   * Requests moved to another server, served here because they could not move, and connections left
   * unrouted.
   */
  public long reroutesMoved() {
    return reroutes.moved.sum();
  }

  public long reroutesServedHere() {
    return reroutes.servedHere.sum();
  }

  public long reroutesUnrouted() {
    return reroutes.unrouted.sum();
  }

  private void reportLoad() {
    try {
      fabric.broadcast(
          new FabricMessage.LoadReport(
              nodeName, active.get(), acceptor.accepted.get(), acceptor.closed.get()));
    } catch (RuntimeException e) {
      log.debug("load report not sent: {}", e.toString());
    }
  }

  /** Serves connections this node's own dispatcher picks it for (peer mode), without a handoff. */
  public LocalDelivery localDelivery() {
    return peer;
  }

  /** The worker pools of this server's pooled relay deliveries (none without {@code workers:}). */
  public List<io.baton.server.workers.WorkerPool> workerPools() {
    return workerPools;
  }

  /** Hits of the embedded sample app's object caches ({@code /cached/KEY}). */
  public long cacheHits() {
    return caches.stream().mapToLong(ContentCache::hits).sum();
  }

  public long cacheMisses() {
    return caches.stream().mapToLong(ContentCache::misses).sum();
  }

  /** Tells {@code listener} of every connection taken or lost from now on. */
  public void ownershipListener(OwnershipListener listener) {
    acceptor.ownership = java.util.Objects.requireNonNull(listener, "listener");
    peer.ownership = listener;
  }

  /**
   * Every connection this node serves now: those handed to it, with the handoff that brought each,
   * and those its own dispatcher gave it in peer mode, with their local token.
   */
  public List<FabricMessage.Owned> ownedConnections() {
    List<FabricMessage.Owned> all = new java.util.ArrayList<>(acceptor.allOwned());
    all.addAll(peer.localOwned());
    return all;
  }

  /** Moves this node's connections to other servers (live migration). */
  public Migrator migrator() {
    return migrator;
  }

  /**
   * A connection this node serves, for {@code baton ctl connections}.
   *
   * @param bytesIn bytes read from the client here so far, and {@code bytesOut} written to it
   */
  public record Served(
      FlowKey flow,
      String from,
      long handoffId,
      String summary,
      long sinceMs,
      long bytesIn,
      long bytesOut) {}

  /** Every connection restored here that is still open (peer-mode ones are not listed). */
  public List<Served> served() {
    return acceptor.live.all().stream()
        .map(
            l ->
                new Served(
                    l.flow(),
                    l.from(),
                    l.handoffId(),
                    l.summary(),
                    l.sinceMs(),
                    l.movable().bytesIn(),
                    l.movable().bytesOut()))
        .toList();
  }

  public int activeConnections() {
    return active.get();
  }

  /**
   * Connections their application closed whose close is not reported yet: the kernel still sends to
   * their client or waits for its FIN (see {@link KernelRelease}).
   */
  public int closesAwaitingKernel() {
    return drains.waiting();
  }

  public long acceptedTotal() {
    return acceptor.accepted.get();
  }

  /**
   * Closes of handed-off connections reported at once, because the kernel was already done with the
   * socket when its delivery closed it (no drain watch; see {@link KernelRelease}).
   */
  public long closesReportedAtOnce() {
    return acceptor.closedAtOnce.sum();
  }

  /** What became of the relays' connections opened ahead of need, every delivery together. */
  public RelayDelivery.Preconnects relayPreconnects() {
    var sum = new RelayDelivery.Preconnects(0, 0, 0, 0);
    for (Delivery d : deliveries.values()) {
      if (d instanceof RelayDelivery r) sum = sum.plus(r.preconnects());
    }
    return sum;
  }

  /**
   * Acknowledgements the servers' deliveries sent on their own for clients whose dispatcher delayed
   * its first ACK and whose answer had not started soon enough (a slow application).
   */
  public long owedAcksSentTotal() {
    return deliveries.values().stream().mapToLong(Delivery::owedAcksSent).sum();
  }

  /** Delivered connections closed because they were idle for {@code timeouts.idle}. */
  public long idleTimeoutsTotal() {
    return deliveries.values().stream().mapToLong(Delivery::idleTimeouts).sum();
  }

  /** Handoffs refused because their client address is loopback, this host or farm-internal. */
  public long untrustedClientsTotal() {
    return acceptor.untrusted.get();
  }

  /** ABORTs answered ACCEPTED: the dispatcher timed out, but this node had taken the connection. */
  public long lateAbortsTotal() {
    return acceptor.lateAborts.get();
  }

  public long refusedTotal() {
    return acceptor.refused.get();
  }

  public HandoffServer fabric() {
    return fabric;
  }

  /** Packets the guard dropped (each one retransmitted by the client, none reset). */
  public long guardDrops() {
    try {
      return guardThread.submit(guard::droppedPackets).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      return -1;
    }
  }

  @Override
  public void close() {
    reporter.cancel(false);
    migrator.close();
    fabric.close();
    drains.close();
    for (Delivery d : deliveries.values()) {
      if (d instanceof PassingDelivery p) p.close();
    }
    if (directDnat != null) directDnat.close();
    udpEchoes.forEach(c -> c.close().awaitUninterruptibly());
    if (decap != null) decap.close();
    removeGuard(guardThread, guard);
  }

  /** The decapsulation program's counters; null before start. */
  public io.baton.linux.EncapReceiver.Counters encapCounters() {
    var d = decap;
    if (d == null) return null;
    try {
      return d.counters();
    } catch (io.baton.linux.LinuxException e) {
      return null;
    }
  }

  /** Removes the guard table on its own thread, then ends that thread. */
  private static void removeGuard(ExecutorService guardThread, VipGuard guard) {
    try {
      guardThread
          .submit(
              () -> {
                guard.close();
                return null;
              })
          .get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("cannot remove the VIP guard: {}", rootMessage(e));
    } finally {
      guardThread.shutdownNow();
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && (t instanceof java.util.concurrent.ExecutionException))
      t = t.getCause();
    return t.getMessage();
  }

  /** The host is not prepared for direct server return; every line says what to do. */
  public static final class HostNotReadyException extends IOException {
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public HostNotReadyException(List<String> problems) {
      super("host not prepared for VIP traffic: " + String.join("; ", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }
}
