package io.baton.cli;

import io.baton.announce.BirdBgp;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import io.baton.config.Role;
import io.baton.config.SyncConfig;
import io.baton.dispatcher.DispatcherNode;
import io.baton.dispatcher.ServerEligibility;
import io.baton.linux.LinuxProbe;
import io.baton.server.HealthChecks;
import io.baton.server.OwnershipListener;
import io.baton.server.ServerAgent;
import io.baton.sync.LocalLoad;
import io.baton.sync.OwnershipUpdate;
import io.baton.sync.SyncKeys;
import io.baton.sync.SyncPlane;
import io.baton.sync.SyncSettings;
import io.baton.transplant.FlowKey;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Runs a node's roles from its config file until the process is told to stop (SIGINT/SIGTERM): the
 * server agent first (so a node that also dispatches can serve itself), then the dispatcher.
 * Everything is closed in reverse order on the way out.
 *
 * <p>Confined to the thread that calls {@link #run}.
 */
final class NodeRunner {
  private NodeRunner() {}

  static int run(Path configFile, Role required, PrintWriter out, int threads) throws Exception {
    return run(configFile, required, out, threads, false);
  }

  /**
   * @param takeOver a planned reload: take over from the dispatcher running on this host
   */
  static int run(Path configFile, Role required, PrintWriter out, int threads, boolean takeOver)
      throws Exception {
    BatonConfig config;
    try {
      config = ConfigLoader.load(configFile);
    } catch (ConfigException e) {
      throw new ConfigFailure(e.getMessage(), e);
    }
    if (!config.node().roles().contains(required)) {
      throw new ConfigFailure(
          configFile
              + ": node "
              + config.node().name()
              + " does not have the role "
              + required.name().toLowerCase(java.util.Locale.ROOT)
              + " (node.roles is "
              + config.node().roles()
              + ")",
          null);
    }
    List<String> problems = LinuxProbe.problems();
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));

    EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    DispatcherNode.PausedListeners paused = null;
    if (takeOver) {
      String why =
          config.node().roles().contains(Role.SERVER)
              ? "it is also a server (peer mode): the connections it serves itself live in the running process"
              : null;
      if (why != null) {
        group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
        throw new ConfigFailure(
            configFile
                + ": node "
                + config.node().name()
                + " cannot take over with --take-over: "
                + why
                + "; stop the running process, then start this one",
            null);
      }
      paused = TakeOver.fromRunningDispatcher(config, group, out);
    }
    ServerAgent server = null;
    DispatcherNode dispatcher = null;
    HealthChecks health = null;
    SyncPlane sync = null;
    BirdBgp bgp = null;
    AtomicReference<DispatcherNode> dispatcherRef = new AtomicReference<>();
    io.baton.admin.MetricsEndpoint metrics = null;
    io.baton.admin.AdminEndpoint admin = null;
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch stopped = new CountDownLatch(1);
    // The JVM halts as soon as its shutdown hooks return: this one holds it until the node has
    // stopped in order (a dispatcher finishes the connections it is reading and its handoffs,
    // which a planned reload relies on), bounded.
    Thread hook =
        new Thread(
            () -> {
              stop.countDown();
              try {
                stopped.await(
                    SHUTDOWN_LIMIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "baton-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      if (config.node().roles().contains(Role.SERVER)) {
        try {
          server = ServerAgent.start(config, group);
        } catch (ServerAgent.HostNotReadyException e) {
          throw new HostNotReadyException(e.getMessage(), e);
        }
      }
      ServerEligibility eligibility = ServerEligibility.ANY;
      if (config.sync().isPresent()) {
        if (server != null)
          health = HealthChecks.start(config.server().orElseThrow().healthChecks());
        sync = startSync(config, server, health, dispatcherRef);
        eligibility = sync.farm()::refusal;
        if (server != null) {
          publishOwnership(sync, server);
          server.migrator().targets(migrationTargets(sync, config.node().name()));
        }
      }
      if (config.node().roles().contains(Role.DISPATCHER)) {
        dispatcher =
            DispatcherNode.start(
                config,
                group,
                server == null ? null : server.localDelivery()::serve,
                eligibility,
                paused);
        paused = null; // accepting now
        dispatcherRef.set(dispatcher);
        if (sync != null) {
          sync.receiveOwnership(dispatcher::replicate);
          DispatcherNode d = dispatcher;
          sync.farm().onChange(d::farmChanged);
          d.farmChanged(sync.farm().snapshot());
        }
        if (config.announce().isPresent()) {
          // Announce only once the connections the farm already has forward from here too: a
          // route that comes back moves some of them to this dispatcher at once.
          if (sync != null && !dispatcher.awaitReplication(java.time.Duration.ofSeconds(10))) {
            org.slf4j.LoggerFactory.getLogger(NodeRunner.class)
                .warn(
                    "announcing the VIPs before the farm's connections were all in the forwarding table");
          }
          // On this (the main) thread, which lives as long as the node: BIRD's parent-death signal
          // follows the thread that started it.
          bgp =
              BirdBgp.start(
                  config.node().name(),
                  config.announce().get(),
                  // IPv4 (the config refuses announce with an IPv6 front address or VIP).
                  (java.net.Inet4Address) config.node().front().orElseThrow().address(),
                  config.vips().stream()
                      .map(v -> (java.net.Inet4Address) v.address())
                      .distinct()
                      .toList(),
                  RUN_DIR);
          heartbeat(group, bgp);
        }
      }
      if (config.metrics().isPresent()) {
        metrics =
            io.baton.admin.MetricsEndpoint.start(
                config.metrics().get().listen(), dispatcher, server, sync);
      }
      if (config.admin().enabled()) {
        admin =
            io.baton.admin.AdminEndpoint.start(
                    config.admin().listen(),
                    config.cluster().key(),
                    config.node().name(),
                    server,
                    sync)
                .dispatcher(dispatcher);
        if (dispatcher != null && server == null) admin.onReload(Successor::start);
      }
      out.println(
          "baton node "
              + config.node().name()
              + " running "
              + config.node().roles()
              + " (config "
              + configFile
              + "); stop with SIGTERM or Ctrl-C");
      out.flush();
      Successor.notifySystemd("READY=1\nSTATUS=node " + config.node().name() + " running");
      stop.await();
      Successor.notifySystemd("STOPPING=1");
      return ExitCode.OK;
    } finally {
      org.slf4j.LoggerFactory.getLogger(NodeRunner.class)
          .info("node {} stopping", config.node().name());
      if (paused != null) paused.close();
      if (metrics != null) metrics.close();
      if (admin != null) admin.close();
      if (bgp != null) bgp.close(); // withdraw the VIPs before the listeners close
      if (dispatcher != null) dispatcher.close();
      if (sync != null) sync.close();
      if (health != null) health.close();
      if (server != null) server.close();
      group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is already exiting through the hook
      }
      stopped.countDown();
    }
  }

  /** Where nodes keep run-time files (BIRD's). */
  static final Path RUN_DIR = Path.of("/run/baton");

  /** Longest a stopping node holds the JVM's exit for its orderly stop. */
  static final java.time.Duration SHUTDOWN_LIMIT = java.time.Duration.ofSeconds(45);

  /**
   * Joins the sync plane and waits (briefly) for the reports of the view's members, so that a
   * dispatcher starting next does not refuse servers it merely has not heard from yet.
   */
  private static SyncPlane startSync(
      BatonConfig config,
      ServerAgent server,
      HealthChecks health,
      AtomicReference<DispatcherNode> dispatcher)
      throws Exception {
    SyncConfig sc = config.sync().orElseThrow();
    var node = config.node();
    SyncSettings settings =
        new SyncSettings(
            node.name(),
            node.rolesText(),
            // IPv4 both (the config refuses a sync section otherwise): the sync plane carries IPv4.
            (java.net.Inet4Address) node.fabric().address(),
            (java.net.Inet4Address) node.sync().orElseThrow().address(),
            sc.port(),
            sc.seeds(),
            sc.reportInterval(),
            sc.staleAfter(),
            SyncKeys.derive(config.cluster().key()),
            config
                .server()
                .map(
                    s ->
                        s.deliveries().stream()
                            // Discovery is IPv4 only: an IPv6 VIP's pools list their members.
                            .filter(d -> d.vip() instanceof java.net.Inet4Address)
                            .map(d -> new java.net.InetSocketAddress(d.vip(), d.port()))
                            .toList())
                .orElse(List.of()));
    DrainFlag drain = DrainFlag.of(node.name());
    if (drain.isSet()) {
      org.slf4j.LoggerFactory.getLogger(NodeRunner.class)
          .warn(
              "node {} starts drained ({} exists; baton drain" + " --config FILE --off ends it)",
              node.name(),
              drain.file());
    }
    Supplier<LocalLoad> load =
        () -> {
          DispatcherNode d = dispatcher.get();
          // The connections it serves (what balancers compare); a dispatcher's forwarded ones are
          // its servers'.
          int active = server == null ? 0 : server.activeConnections();
          long handoffs =
              (server == null ? 0 : server.acceptedTotal())
                  + (d == null ? 0 : d.stats().handedOff.sum());
          HealthChecks.Status h =
              health == null ? new HealthChecks.Status(true, "ok") : health.status();
          return new LocalLoad(active, handoffs, h.healthy(), h.detail(), drain.isSet());
        };
    SyncPlane plane = SyncPlane.start(settings, load, System::nanoTime);
    long limitMs = sc.staleAfter().toMillis() * 2;
    if (!plane.awaitReports(limitMs)) {
      org.slf4j.LoggerFactory.getLogger(NodeRunner.class)
          .warn(
              "sync: not every member of the view reported within {} ms; those get no new connections until they do",
              limitMs);
    }
    return plane;
  }

  /**
   * Beats the announcement's heartbeat every 250 ms, but only when every event loop ran a task
   * within the last second: a loop that is stuck (or a JVM that is stopped) lets the beats lapse,
   * and BIRD's watchdog withdraws the VIPs until they return.
   */
  private static void heartbeat(EventLoopGroup group, BirdBgp bgp) {
    java.util.Map<io.netty.channel.EventLoop, java.util.concurrent.atomic.AtomicLong> lastRun =
        new java.util.concurrent.ConcurrentHashMap<>();
    for (var executor : group) {
      var loop = (io.netty.channel.EventLoop) executor;
      var stamp = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
      lastRun.put(loop, stamp);
      loop.scheduleAtFixedRate(
          () -> stamp.set(System.nanoTime()), 100, 100, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    Thread t =
        new Thread(
            () -> {
              while (bgp.isAlive()) {
                long now = System.nanoTime();
                boolean allTurning =
                    lastRun.values().stream().allMatch(s -> now - s.get() < 1_000_000_000L);
                if (allTurning) {
                  try {
                    bgp.beat();
                  } catch (java.io.IOException e) {
                    org.slf4j.LoggerFactory.getLogger(NodeRunner.class)
                        .warn("cannot write the BGP heartbeat: {}", e.getMessage());
                  }
                }
                java.util.concurrent.locks.LockSupport.parkNanos(250_000_000L); // the beat's period
              }
            },
            "baton-bgp-heartbeat");
    t.setDaemon(true);
    t.start();
  }

  /** Where this server's connections can migrate: servers the sync plane calls eligible. */
  private static io.baton.server.Migrator.Targets migrationTargets(SyncPlane sync, String self) {
    return new io.baton.server.Migrator.Targets() {
      @Override
      public java.net.Inet4Address address(String node) {
        var farm = sync.farm().snapshot();
        var report = farm.report(node);
        if (report == null)
          throw new IllegalArgumentException("no server " + node + " in the farm");
        if (!report.roles().contains("server"))
          throw new IllegalArgumentException(node + " is not a server");
        String refusal = farm.refusal(node, System.nanoTime());
        if (refusal != null)
          throw new IllegalStateException(node + " cannot take connections now: " + refusal);
        return report.fabricAddress();
      }

      @Override
      public java.util.Optional<String> pick(
          FlowKey flow, java.util.function.Predicate<String> among) {
        var farm = sync.farm().snapshot();
        long now = System.nanoTime();
        var service = new java.net.InetSocketAddress(flow.localIp(), flow.localPort());
        return farm.view().stream()
            .filter(n -> !n.equals(self) && among.test(n))
            .map(farm::report)
            .filter(
                r -> r != null && r.roles().contains("server") && r.services().contains(service))
            .filter(r -> farm.refusal(r.node(), now) == null)
            .min(java.util.Comparator.comparingInt(io.baton.sync.NodeReport::activeConnections))
            .map(io.baton.sync.NodeReport::node);
      }
    };
  }

  /** Every connection the agent takes or loses goes to every dispatcher over the sync plane. */
  private static void publishOwnership(SyncPlane sync, ServerAgent server) {
    server.ownershipListener(
        new OwnershipListener() {
          @Override
          public void opened(FlowKey flow, long handoffId) {
            sync.ownershipChanged(new OwnershipUpdate.Change(true, flow, handoffId));
          }

          @Override
          public void closed(FlowKey flow, long handoffId) {
            sync.ownershipChanged(new OwnershipUpdate.Change(false, flow, handoffId));
          }
        });
    sync.publishOwnership(
        () ->
            server.ownedConnections().stream()
                .map(o -> new OwnershipUpdate.Change(true, o.flow(), o.handoffId()))
                .toList());
  }

  /** The config file is wrong; the message is the loader's one line. */
  static final class ConfigFailure extends CommandFailure {
    private static final long serialVersionUID = 1L;

    ConfigFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
