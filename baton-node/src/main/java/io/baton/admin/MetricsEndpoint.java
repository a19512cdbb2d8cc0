package io.baton.admin;

import io.baton.dispatcher.DispatcherNode;
import io.baton.dispatcher.DispatcherStats;
import io.baton.dispatcher.LatencyRecorder;
import io.baton.server.ServerAgent;
import io.baton.sync.SyncPlane;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;

/**
 * A node's Prometheus endpoint ({@code metrics.listen} in the config): the dispatcher's counters
 * (connections accepted, handed off, refused, answered by the dispatcher itself, handoff stage
 * latencies), its forwarding table and fabric, and the server agent's connections and guard. Every
 * metric reads the live counters at scrape time; nothing is copied on the data path.
 *
 * <p>Thread-safe; scrapes run on the HTTP server's own thread.
 */
public final class MetricsEndpoint implements AutoCloseable {
  private final HTTPServer server;

  private MetricsEndpoint(HTTPServer server) {
    this.server = server;
  }

  /**
   * Serves {@code /metrics} on {@code listen} for whichever roles this node runs (either may be
   * null).
   */
  public static MetricsEndpoint start(
      InetSocketAddress listen, DispatcherNode dispatcher, ServerAgent agent) throws IOException {
    return start(listen, dispatcher, agent, null);
  }

  /** As above, with the sync plane's figures when the node has one ({@code sync} may be null). */
  public static MetricsEndpoint start(
      InetSocketAddress listen, DispatcherNode dispatcher, ServerAgent agent, SyncPlane sync)
      throws IOException {
    PrometheusRegistry registry = registry(dispatcher, agent, sync);
    try {
      HTTPServer server =
          HTTPServer.builder()
              .inetAddress(listen.getAddress())
              .port(listen.getPort())
              .registry(registry)
              .buildAndStart();
      return new MetricsEndpoint(server);
    } catch (IOException e) {
      throw new IOException("cannot serve metrics on " + listen + ": " + e.getMessage(), e);
    }
  }

  /**
   * A registry of the node's metrics (each role's that it has; any may be null): what {@code
   * /metrics} serves, and what the admin endpoint's stats page shows.
   */
  static PrometheusRegistry registry(DispatcherNode dispatcher, ServerAgent agent, SyncPlane sync) {
    PrometheusRegistry registry = new PrometheusRegistry();
    if (dispatcher != null) registerDispatcher(registry, dispatcher);
    if (agent != null) registerServer(registry, agent);
    if (sync != null) registerSync(registry, sync);
    return registry;
  }

  /** Serves {@code /metrics} on {@code listen} for a gateway. */
  public static MetricsEndpoint startGateway(
      InetSocketAddress listen, io.baton.gateway.GatewayNode gateway) throws IOException {
    PrometheusRegistry registry = new PrometheusRegistry();
    var c = gateway.counters();
    GaugeWithCallback.builder()
        .name("baton_gateway_registrations")
        .help("Live registrations in the proxy registration table")
        .callback(cb -> cb.call(gateway.table().list().size()))
        .register(registry);
    counterOf(
        registry,
        "baton_gateway_connections_intercepted",
        "LAN connections intercepted and carried over a trunk",
        gateway::intercepted);
    counterOf(
        registry,
        "baton_gateway_connections_refused_unregistered",
        "Intercepted connections reset because no live registration covered them",
        gateway::refusedUnregistered);
    counterOf(
        registry,
        "baton_gateway_streams_refused_not_served",
        "Streams from peers reset because their destination is not among serves",
        gateway::refusedNotServed);
    counter(
        registry,
        "baton_gateway_streams_opened",
        "Streams opened on this gateway's trunks, both sides",
        c.streamsOpened);
    counter(
        registry,
        "baton_gateway_streams_reset",
        "Streams ended by a reset (either end, or their trunk failing)",
        c.streamsReset);
    GaugeWithCallback.builder()
        .name("baton_gateway_streams_open")
        .help("Streams open now")
        .callback(cb -> cb.call(c.streamsOpen.get()))
        .register(registry);
    counter(
        registry,
        "baton_gateway_wan_sent_bytes",
        "Bytes read from local sockets and sent over trunks",
        c.bytesToWan);
    counter(
        registry,
        "baton_gateway_wan_received_bytes",
        "Bytes received over trunks and written to local sockets",
        c.bytesFromWan);
    GaugeWithCallback.builder()
        .name("baton_gateway_trunks_up")
        .help("Trunks up now, both sides")
        .callback(cb -> cb.call(c.trunksUp.get()))
        .register(registry);
    counter(
        registry,
        "baton_gateway_trunk_failures",
        "Trunks that failed (a connection closed, errored or went silent)",
        c.trunkFailures);
    counter(
        registry,
        "baton_gateway_hellos_refused",
        "Tunnel connections refused before any stream frame (bad or stale HELLO)",
        c.hellosRefused);
    try {
      return new MetricsEndpoint(
          HTTPServer.builder()
              .inetAddress(listen.getAddress())
              .port(listen.getPort())
              .registry(registry)
              .buildAndStart());
    } catch (IOException e) {
      throw new IOException("cannot serve metrics on " + listen + ": " + e.getMessage(), e);
    }
  }

  /** The port actually bound (useful with port 0). */
  public int port() {
    return server.getPort();
  }

  private static void registerDispatcher(PrometheusRegistry r, DispatcherNode d) {
    DispatcherStats s = d.stats();
    registerFlows(r, d);
    counter(
        r,
        "baton_dispatcher_connections_accepted",
        "Client connections accepted on the VIPs",
        s.accepted);
    counter(
        r,
        "baton_dispatcher_handoffs",
        "Connections handed off to a server (ACCEPTED)",
        s.handedOff);
    counter(r, "baton_dispatcher_handoffs_refused", "Handoffs a server refused", s.refusedByServer);
    counter(
        r,
        "baton_dispatcher_handoff_failures",
        "Handoffs that timed out or lost their fabric connection",
        s.handoffFailures);
    counter(
        r,
        "baton_dispatcher_served_locally",
        "Connections served by this node itself (peer mode)",
        s.servedLocally);
    counter(
        r,
        "baton_dispatcher_skipped_by_farm_state",
        "Picks passed over because the sync plane refused the server",
        s.skippedByFarmState);
    counter(
        r,
        "baton_dispatcher_ownership_installed",
        "Entries installed from servers' ownership news (other dispatchers' handoffs)",
        s.ownershipInstalled);
    counter(
        r,
        "baton_dispatcher_ownership_retired",
        "Entries retired from servers' ownership news",
        s.ownershipRetired);
    counter(
        r,
        "baton_dispatcher_ownership_refused",
        "Ownership news refused: not a configured server at that fabric address",
        s.ownershipRefused);
    CounterWithCallback.builder()
        .name("baton_dispatcher_vip_connections")
        .help("Client connections accepted, per VIP")
        .labelNames("vip")
        .callback(cb -> s.perVip().forEach((vip, c) -> cb.call(c.accepted.sum(), vip)))
        .register(r);
    CounterWithCallback.builder()
        .name("baton_dispatcher_vip_handoffs")
        .help("Connections handed off, per VIP")
        .labelNames("vip")
        .callback(cb -> s.perVip().forEach((vip, c) -> cb.call(c.handedOff.sum(), vip)))
        .register(r);
    GaugeWithCallback.builder()
        .name("baton_dispatcher_server_connections")
        .help(
            "Connections each server holds, as this dispatcher knows it (load reports, own handoffs)")
        .labelNames("server")
        .callback(cb -> d.serverConnections().forEach((server, n) -> cb.call(n, server)))
        .register(r);
    CounterWithCallback.builder()
        .name("baton_dispatcher_answered")
        .help("Connections the dispatcher answered or closed itself, by reason")
        .labelNames("reason")
        .callback(
            cb -> {
              cb.call(s.answered503.sum(), "503");
              cb.call(s.closedUnavailable.sum(), "unavailable_close");
              cb.call(s.answered400.sum(), "400");
              cb.call(s.answered431.sum(), "431");
              cb.call(s.answered408.sum(), "408");
              cb.call(s.closedSlow.sum(), "slow");
              cb.call(s.closedNotTls.sum(), "not_tls");
              cb.call(s.clientGone.sum(), "client_gone");
              cb.call(s.refusedPendingTotal.sum(), "pending_cap");
              cb.call(s.refusedPendingPerClient.sum(), "pending_per_client_cap");
              cb.call(s.answered431HeaderCount.sum(), "431_header_count");
            })
        .register(r);
    CounterWithCallback.builder()
        .name("baton_dispatcher_accept_failures")
        .help(
            "accept4 failures on the VIP listeners (out of descriptors, most often); each pauses"
                + " that listener for 1 s")
        .callback(cb -> cb.call(s.acceptFailures.sum()))
        .register(r);
    CounterWithCallback.builder()
        .name("baton_dispatcher_handoff_problems")
        .help("Handoff steps that failed or went late, by reason")
        .labelNames("reason")
        .callback(
            cb -> {
              cb.call(s.freezeFailures.sum(), "freeze_failed");
              cb.call(s.installFailures.sum(), "forwarding_change_failed");
              cb.call(s.exportFailures.sum(), "export_failed");
              cb.call(s.resumeFailures.sum(), "resume_failed");
              cb.call(s.aborts.sum(), "abort_sent");
              cb.call(s.abortedByServer.sum(), "abort_confirmed");
              cb.call(s.lateAccepted.sum(), "late_accepted");
              cb.call(s.abandoned.sum(), "outcome_unknown");
              cb.call(s.staleCloses.sum(), "stale_close");
            })
        .register(r);
    GaugeWithCallback.builder()
        .name("baton_dispatcher_first_request_phase")
        .help("Connections accepted whose first request is still being read")
        .callback(cb -> cb.call(s.firstRequestPhase.sum()))
        .register(r);
    GaugeWithCallback.builder()
        .name("baton_dispatcher_handoffs_in_flight")
        .help("Handoffs between the routing decision and their outcome")
        .callback(cb -> cb.call(s.inFlightHandoffs.sum()))
        .register(r);
    counter(
        r,
        "baton_dispatcher_servers_lost",
        "Fabric sessions to servers lost (server declared dead)",
        s.serversLost);
    counter(
        r,
        "baton_dispatcher_entries_dropped_with_servers",
        "Forwarding entries removed because their server was lost",
        s.entriesDroppedWithServers);
    counter(
        r,
        "baton_dispatcher_reconcile_removed",
        "Entries removed because the server's inventory lacked them",
        s.reconcileRemoved);
    counter(
        r,
        "baton_dispatcher_reconcile_added",
        "Entries restored from a server's inventory",
        s.reconcileAdded);
    GaugeWithCallback.builder()
        .name("baton_dispatcher_handoff_stage_seconds")
        .help("Recent handoff stage latencies (median and p99 of the last 8192 handoffs)")
        .labelNames("stage", "quantile")
        .callback(
            cb -> {
              stage(cb, "freeze_and_forward", s.freezeAndForwardTime);
              stage(cb, "export", s.exportTime);
              stage(cb, "fabric_round_trip", s.fabricRoundTripTime);
              stage(cb, "handoff", s.handoffTime);
            })
        .register(r);
    r.register(s.handoffSeconds);
    counterOf(
        r,
        "baton_forwarding_entries_installed",
        "Forwarding entries installed",
        () -> d.forwarding().installedTotal());
    counterOf(
        r,
        "baton_forwarding_entries_put_ahead",
        "Handoffs' forwarding entries put into the BPF flow map ahead of their nftables commit",
        () -> d.forwarding().putAheadTotal());
    counterOf(
        r,
        "baton_forwarding_flow_map_failures",
        "Changes of the BPF flow map that failed (each logged)",
        () -> d.forwarding().mirrorFailures());
    counterOf(
        r,
        "baton_forwarding_entries_removed",
        "Forwarding entries removed (closed, dead server, reconciled)",
        () -> d.forwarding().removedTotal());
    GaugeWithCallback.builder()
        .name("baton_forwarding_entries")
        .help(
            "Forwarding entries the dispatcher tracks (the kernel's map is not dumped per scrape)")
        .callback(cb -> cb.call(d.forwarding().trackedEntries()))
        .register(r);
    counterOf(
        r,
        "baton_forwarding_batches",
        "nf_tables netlink batches sent",
        () -> d.forwarding().batchesTotal());
    GaugeWithCallback.builder()
        .name("baton_fabric_up")
        .help("1 when the fabric connection to a server is up")
        .labelNames("server")
        .callback(cb -> d.fabricState().forEach((node, up) -> cb.call(up ? 1 : 0, node)))
        .register(r);
    counterOf(
        r,
        "baton_fabric_auth_failures",
        "Fabric frames that failed authentication",
        d::fabricAuthFailures);
    counterOf(
        r,
        "baton_fabric_late_replies",
        "Answers that found no handoff waiting (repeats after ABORT, answers after a give-up)",
        d::fabricLateReplies);
    counterOf(
        r,
        "baton_fabric_silent_servers",
        "Fabric sessions closed after a server's silence (dead-after)",
        d::fabricSilentPeers);
  }

  /** UDP flows and the BPF flow forwarder, when the dispatcher has them. */
  private static void registerFlows(PrometheusRegistry r, DispatcherNode d) {
    var flows = d.udpFlows();
    if (flows != null) {
      GaugeWithCallback.builder()
          .name("baton_dispatcher_udp_flows")
          .help("UDP flows assigned to a server now, per server")
          .labelNames("server")
          .callback(cb -> flows.perServer().forEach((server, n) -> cb.call(n, server)))
          .register(r);
      var u = flows.stats();
      CounterWithCallback.builder()
          .name("baton_dispatcher_udp_flow_events")
          .help("What happened to UDP flows, by event")
          .labelNames("event")
          .callback(
              cb -> {
                cb.call(u.assigned.sum(), "assigned");
                cb.call(u.expired.sum(), "expired");
                cb.call(u.lostWithServer.sum(), "server_lost");
                cb.call(u.unavailable.sum(), "no_server");
                cb.call(u.firstDatagrams.sum(), "datagram_sent_by_dispatcher");
                cb.call(u.tableFailures.sum(), "kernel_entry_failed");
              })
          .register(r);
    }
    if (d.flowCounters() != null) {
      CounterWithCallback.builder()
          .name("baton_dispatcher_flow_forwarder_packets")
          .help(
              "Packets the BPF flow forwarder handled on the front interface (handed-off TCP connections, UDP flows), by path")
          .labelNames("path")
          .callback(
              cb -> {
                var c = d.flowCounters();
                if (c == null) return;
                cb.call(c.forwarded(), "direct");
                cb.call(c.encapsulated(), "encap");
                cb.call(c.encapFailed(), "encap_failed");
                cb.call(c.closingDeleted(), "closed_entry_ended_by_syn");
                cb.call(c.ipv6ExtensionPassed(), "ipv6_extension_header_passed");
              })
          .register(r);
    }
  }

  private static void registerServer(PrometheusRegistry r, ServerAgent a) {
    CounterWithCallback.builder()
        .name("baton_server_encap_packets")
        .help(
            "Encapsulated packets that arrived on the fabric, by result (only decapsulated ones reach the stack)")
        .labelNames("result")
        .callback(
            cb -> {
              var c = a.encapCounters();
              if (c == null) return;
              cb.call(c.decapsulated(), "decapsulated");
              cb.call(c.malformed(), "malformed");
              cb.call(c.badVersion(), "bad_version");
              cb.call(c.badCheck(), "bad_check");
              cb.call(c.badReference(), "bad_reference");
            })
        .register(r);
    if (!a.workerPools().isEmpty()) {
      GaugeWithCallback.builder()
          .name("baton_server_worker_active")
          .help("Relayed connections a worker has now")
          .labelNames("pool", "worker")
          .callback(
              cb -> {
                for (var pool : a.workerPools())
                  for (var w : pool.workers()) cb.call(w.active(), pool.name(), w.name());
              })
          .register(r);
      CounterWithCallback.builder()
          .name("baton_server_worker_connections")
          .help("Connections given to a worker")
          .labelNames("pool", "worker")
          .callback(
              cb -> {
                for (var pool : a.workerPools())
                  for (var w : pool.workers()) cb.call(w.connections(), pool.name(), w.name());
              })
          .register(r);
      CounterWithCallback.builder()
          .name("baton_server_worker_failures")
          .help("Connects to a worker that failed")
          .labelNames("pool", "worker")
          .callback(
              cb -> {
                for (var pool : a.workerPools())
                  for (var w : pool.workers()) cb.call(w.failures(), pool.name(), w.name());
              })
          .register(r);
      GaugeWithCallback.builder()
          .name("baton_server_worker_up")
          .help("1 while a worker is not down")
          .labelNames("pool", "worker")
          .callback(
              cb -> {
                for (var pool : a.workerPools())
                  for (var w : pool.workers()) cb.call(w.isDown() ? 0 : 1, pool.name(), w.name());
              })
          .register(r);
    }
    GaugeWithCallback.builder()
        .name("baton_server_connections_active")
        .help("Handed-off connections this server owns now")
        .callback(cb -> cb.call(a.activeConnections()))
        .register(r);
    GaugeWithCallback.builder()
        .name("baton_server_closes_awaiting_kernel")
        .help(
            "Connections closed by their application whose close is not reported yet: the kernel"
                + " still sends to the client or waits for its FIN")
        .callback(cb -> cb.call(a.closesAwaitingKernel()))
        .register(r);
    counterOf(
        r,
        "baton_server_closes_reported_at_once",
        "Closes reported without waiting for the kernel: it was done with the socket when the"
            + " delivery closed it (e.g. a relayed connection ending on the client's FIN)",
        a::closesReportedAtOnce);
    counterOf(
        r,
        "baton_server_owed_acks_sent",
        "Client requests acknowledged by the server on its own: the dispatcher delayed its first ACK"
            + " (delay-first-ack) and the answer had not started 40 ms after the restore",
        a::owedAcksSentTotal);
    counterOf(
        r, "baton_server_handoffs_accepted", "Handoffs restored and delivered", a::acceptedTotal);
    counterOf(
        r,
        "baton_server_handoffs_refused",
        "Handoffs refused (corrupt state, no delivery, limit, restore failure)",
        a::refusedTotal);
    counterOf(
        r,
        "baton_server_fabric_auth_failures",
        "Fabric frames that failed authentication",
        () -> a.fabric().authFailures());
    counterOf(
        r,
        "baton_server_fabric_malformed_frames",
        "Malformed fabric frames",
        () -> a.fabric().malformedFrames());
    CounterWithCallback.builder()
        .name("baton_server_relay_preconnects")
        .help(
            "Upstream connections the relays opened ahead of need, by what became of them (used by a"
                + " relayed connection, expired unused, closed by the upstream, failed to connect)")
        .labelNames("result")
        .callback(
            cb -> {
              var p = a.relayPreconnects();
              cb.call(p.used(), "used");
              cb.call(p.expired(), "expired");
              cb.call(p.closedByUpstream(), "closed_by_upstream");
              cb.call(p.failed(), "failed");
            })
        .register(r);
    counterOf(
        r,
        "baton_server_idle_timeouts",
        "Delivered connections closed after timeouts.idle without traffic",
        a::idleTimeoutsTotal);
    counterOf(
        r,
        "baton_server_untrusted_clients",
        "Handoffs refused: client address loopback, local or farm-internal",
        a::untrustedClientsTotal);
    counterOf(
        r,
        "baton_server_fabric_refused_peers",
        "Fabric connections refused for their source address",
        () -> a.fabric().refusedPeers());
    counterOf(
        r,
        "baton_server_fabric_silent_peers",
        "Fabric sessions closed after the dispatcher's silence",
        () -> a.fabric().silentPeers());
    counterOf(
        r,
        "baton_server_late_aborts",
        "ABORTs answered ACCEPTED (the dispatcher's timeout was too short)",
        a::lateAbortsTotal);
    counterOf(
        r, "baton_app_cache_hits", "The embedded sample app's object cache: hits", a::cacheHits);
    counterOf(
        r,
        "baton_app_cache_misses",
        "The embedded sample app's object cache: misses (objects generated)",
        a::cacheMisses);
    counterOf(
        r,
        "baton_server_guard_drops",
        "VIP packets the guard dropped before their socket existed",
        a::guardDrops);
    GaugeWithCallback.builder()
        .name("baton_server_migrations_in_progress")
        .help("Migrations of this server's connections to other servers under way now")
        .callback(cb -> cb.call(a.migrator().movingCount()))
        .register(r);
    CounterWithCallback.builder()
        .name("baton_server_migrations")
        .help("Live migrations of this server's connections to others, by outcome")
        .labelNames("outcome")
        .callback(
            cb -> {
              cb.call(a.migrator().moved.sum(), "moved");
              cb.call(a.migrator().stayed.sum(), "stayed");
              cb.call(a.migrator().lost.sum(), "lost");
            })
        .register(r);
    CounterWithCallback.builder()
        .name("baton_server_reroutes")
        .help(
            "Requests of per-request routed VIPs that belonged to another pool: moved there, or served here because"
                + " they could not move; unrouted: connections whose framing ended the routing (chunked, unparsable)")
        .labelNames("outcome")
        .callback(
            cb -> {
              cb.call(a.reroutesMoved(), "moved");
              cb.call(a.reroutesServedHere(), "served_here");
              cb.call(a.reroutesUnrouted(), "unrouted");
            })
        .register(r);
  }

  private static void registerSync(PrometheusRegistry r, SyncPlane p) {
    GaugeWithCallback.builder()
        .name("baton_sync_view_members")
        .help("Members of this node's current sync view")
        .callback(cb -> cb.call(p.viewSize()))
        .register(r);
    GaugeWithCallback.builder()
        .name("baton_sync_node_eligible")
        .help(
            "1 if the farm state lets the node take new connections (in the view, reporting, healthy, not draining);"
                + " every node seen since start")
        .labelNames("node")
        .callback(
            cb -> {
              var snapshot = p.farm().snapshot();
              long now = System.nanoTime();
              for (String n : p.farm().knownNodes())
                cb.call(snapshot.refusal(n, now) == null ? 1 : 0, n);
            })
        .register(r);
    counterOf(r, "baton_sync_view_changes", "Views installed since start", p::viewChanges);
    counterOf(r, "baton_sync_reports_sent", "Load reports this node published", p::reportsSent);
    counterOf(
        r,
        "baton_sync_reports_accepted",
        "Load reports accepted from the farm (this node's own included)",
        p::reportsAccepted);
    counterOf(
        r,
        "baton_sync_reports_rejected",
        "Sync messages refused: bad seal, malformed, impersonating, replayed or out of order",
        p::reportsRejected);
    counterOf(
        r,
        "baton_sync_ownership_changes_sent",
        "Connection opens and closes this server published",
        p::ownershipChangesSent);
    counterOf(
        r,
        "baton_sync_ownership_changes_received",
        "Connection opens and closes received from servers",
        p::ownershipChangesReceived);
    counterOf(
        r,
        "baton_sync_ownership_rejected",
        "Ownership updates refused: impersonating, replayed, or not matching the config",
        p::ownershipRejected);
    counterOf(r, "baton_sync_bytes_sent", "Bytes JGroups sent on the sync network", p::bytesSent);
    counterOf(
        r,
        "baton_sync_bytes_received",
        "Bytes JGroups received on the sync network",
        p::bytesReceived);
  }

  private static void counter(PrometheusRegistry r, String name, String help, LongAdder value) {
    counterOf(r, name, help, value::sum);
  }

  private static void counterOf(
      PrometheusRegistry r, String name, String help, DoubleSupplier value) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> cb.call(value.getAsDouble()))
        .register(r);
  }

  private static void stage(GaugeWithCallback.Callback cb, String stage, LatencyRecorder recorder) {
    cb.call(recorder.percentileNanos(50) / 1e9, stage, "0.5");
    cb.call(recorder.percentileNanos(99) / 1e9, stage, "0.99");
  }

  @Override
  public void close() {
    server.close();
  }
}
