package io.baton.dispatcher;

import io.prometheus.metrics.core.metrics.Histogram;
import java.util.concurrent.atomic.LongAdder;

/**
 * The dispatcher's counters: what happened to the connections it accepted. Thread-safe (LongAdders,
 * written from every event loop).
 */
public final class DispatcherStats {
  public final LongAdder accepted = new LongAdder();

  /** Connections accepted and handed off on one VIP (VIP:port). */
  public static final class VipCounters {
    public final LongAdder accepted = new LongAdder();
    public final LongAdder handedOff = new LongAdder();
    private final String name;

    VipCounters(String name) {
      this.name = name;
    }

    /** The VIP as text ({@code 198.18.0.100:80}), made once: every handoff names it. */
    public String name() {
      return name;
    }
  }

  /** The same counters by VIP, so that a connection's path formats no address. */
  private final java.util.concurrent.ConcurrentHashMap<io.baton.dataplane.Vip, VipCounters> byVip =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The counters of {@code vip}, found without formatting it. */
  public VipCounters forVip(io.baton.dataplane.Vip vip) {
    VipCounters c = byVip.get(vip);
    return c != null ? c : byVip.computeIfAbsent(vip, v -> forVip(v.toString()));
  }

  private final java.util.concurrent.ConcurrentHashMap<String, VipCounters> perVip =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The counters of {@code vip} ({@code 198.18.0.100:80}). */
  public VipCounters forVip(String vip) {
    VipCounters c = perVip.get(vip);
    return c != null ? c : perVip.computeIfAbsent(vip, VipCounters::new);
  }

  /** Every VIP seen so far with its counters. */
  public java.util.Map<String, VipCounters> perVip() {
    return java.util.Collections.unmodifiableMap(perVip);
  }

  public final LongAdder handedOff = new LongAdder();
  public final LongAdder refusedByServer = new LongAdder();
  public final LongAdder handoffFailures = new LongAdder();
  public final LongAdder servedLocally = new LongAdder();

  /**
   * Picks passed over because the farm's state refused the server (sync plane: gone, stale,
   * unhealthy, draining).
   */
  public final LongAdder skippedByFarmState = new LongAdder();

  /** Entries installed from servers' ownership news (other dispatchers' handoffs). */
  public final LongAdder ownershipInstalled = new LongAdder();

  /** Entries retired from servers' ownership news. */
  public final LongAdder ownershipRetired = new LongAdder();

  /** Ownership news refused: the sender is not a configured server at that fabric address. */
  public final LongAdder ownershipRefused = new LongAdder();

  public final LongAdder answered503 = new LongAdder();
  public final LongAdder answered400 = new LongAdder();
  public final LongAdder answered431 = new LongAdder();
  public final LongAdder answered408 = new LongAdder();
  public final LongAdder closedSlow = new LongAdder();
  public final LongAdder closedNotTls = new LongAdder();
  public final LongAdder clientGone = new LongAdder();
  public final LongAdder bytesReadBeforeHandoff = new LongAdder();

  /**
   * Gauge: connections in the first-request phase now (admitted, not yet handed off, answered or
   * closed). Up on admission, down on release.
   */
  public final LongAdder firstRequestPhase = new LongAdder();

  /**
   * accept4 failures on a VIP's listener (out of descriptors, most often); each pauses that
   * listener for {@link VipListener#ACCEPT_PAUSE}.
   */
  public final LongAdder acceptFailures = new LongAdder();

  /** Connections closed at accept because {@code limits.max-pending-connections} were pending. */
  public final LongAdder refusedPendingTotal = new LongAdder();

  /** Connections closed at accept because their client IP had {@code max-pending-per-client}. */
  public final LongAdder refusedPendingPerClient = new LongAdder();

  /** 431 answers for more than {@code limits.max-header-count} fields (also in answered431). */
  public final LongAdder answered431HeaderCount = new LongAdder();

  /**
   * Freeze plus the forwarding entry: its put into the BPF flow map, or, without the map, the wait
   * for its nftables commit.
   */
  public final LatencyRecorder freezeAndForwardTime = new LatencyRecorder(8192);

  /** Export of the state and its encoding. */
  public final LatencyRecorder exportTime = new LatencyRecorder(8192);

  /**
   * HANDOFF sent to ACCEPTED received: fabric, authentication, restore and delivery on the server.
   */
  public final LatencyRecorder fabricRoundTripTime = new LatencyRecorder(8192);

  /** From the routing decision to the dispatcher's copy closed. */
  public final LatencyRecorder handoffTime = new LatencyRecorder(8192);

  /**
   * The same handoff times as a cumulative histogram (metrics: baton_dispatcher_handoff_seconds),
   * so that a scraper can take the distribution of any interval (the benchmark's light-load probe)
   * from two scrapes. Buckets from 25 µs to 10 s.
   */
  public final Histogram handoffSeconds =
      Histogram.builder()
          .name("baton_dispatcher_handoff_seconds")
          .help(
              "Time from the routing decision to the server's ACCEPTED (freeze, forwarding entry, export,"
                  + " fabric round trip)")
          .classicOnly()
          .classicUpperBounds(
              25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 2e-3, 5e-3,
              10e-3, 50e-3, 0.1, 1, 10)
          .build();

  // Handoff outcomes and failures by reason (HandoffMachine).
  /** Handoffs between the routing decision and their terminal state, now. */
  public final LongAdder inFlightHandoffs = new LongAdder();

  /** tls and l4 connections closed because no server took them (http ones get a 503). */
  public final LongAdder closedUnavailable = new LongAdder();

  /**
   * Bugs: unchecked exceptions inside a handoff step (the machine ended the handoff). Should stay
   * 0.
   */
  public final LongAdder internalErrors = new LongAdder();

  /** Sockets that could not be frozen (no longer movable); answered here. */
  public final LongAdder freezeFailures = new LongAdder();

  /** Forwarding-table changes of a handoff that failed or timed out. */
  public final LongAdder installFailures = new LongAdder();

  public final LongAdder exportFailures = new LongAdder();

  /** Sockets that could not be resumed after a take-back (closed). */
  public final LongAdder resumeFailures = new LongAdder();

  /** ABORTs sent for overdue answers. */
  public final LongAdder aborts = new LongAdder();

  /** ABORTs the server confirmed (it never took the connection): taken back. */
  public final LongAdder abortedByServer = new LongAdder();

  /** ACCEPTED after the handoff timeout (answer to the HANDOFF or to its ABORT). */
  public final LongAdder lateAccepted = new LongAdder();

  /** Outcome unknown (server silent or its session lost after the HANDOFF was written). */
  public final LongAdder abandoned = new LongAdder();

  /** CLOSED reports for entries the reporting handoff no longer owns (ignored). */
  public final LongAdder staleCloses = new LongAdder();

  /** Servers declared dead (fabric session lost) and the entries removed with them. */
  public final LongAdder serversLost = new LongAdder();

  public final LongAdder entriesDroppedWithServers = new LongAdder();

  /** Entries removed or added when a server's inventory was reconciled with the table. */
  public final LongAdder reconcileRemoved = new LongAdder();

  public final LongAdder reconcileAdded = new LongAdder();

  @Override
  public String toString() {
    return "accepted="
        + accepted
        + " handedOff="
        + handedOff
        + " refused="
        + refusedByServer
        + " failures="
        + handoffFailures
        + " local="
        + servedLocally
        + " 503="
        + answered503
        + " 400="
        + answered400
        + " 431="
        + answered431
        + " 408="
        + answered408
        + " slow="
        + closedSlow
        + " notTls="
        + closedNotTls
        + " clientGone="
        + clientGone
        + " firstRequestPhase="
        + firstRequestPhase
        + " refusedPendingTotal="
        + refusedPendingTotal
        + " refusedPendingPerClient="
        + refusedPendingPerClient
        + " 431headerCount="
        + answered431HeaderCount;
  }
}
