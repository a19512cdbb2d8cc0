package io.baton.sync;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The farm's state as this node knows it: JGroups' views and the nodes' reports, published as an
 * immutable {@link FarmSnapshot} that any thread reads without a lock (the dispatcher on every
 * pick). Changes come from the sync plane's threads and are serialised here.
 *
 * <p>Reports of a node outside the view are kept but do not make it eligible; a node that leaves
 * the view loses its report, so that one that comes back starts clean.
 */
public final class FarmState {
  private static final Logger log = LoggerFactory.getLogger(FarmState.class);

  private final LongSupplier nanoClock;
  private volatile FarmSnapshot snapshot;

  /** Per node, the refusal last logged ({@code ""} = eligible), to log each change once. */
  private final Map<String, String> logged = new HashMap<>(); // guarded by this

  /** Every node this process has seen in a view or heard from: the metrics list them all. */
  private volatile Set<String> known = Set.of();

  private final java.util.List<java.util.function.Consumer<FarmSnapshot>> listeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  final LongAdder reportsAccepted = new LongAdder();
  final LongAdder reportsReplayed = new LongAdder();
  final LongAdder viewChanges = new LongAdder();

  public FarmState(long staleAfterNs, LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
    this.snapshot = FarmSnapshot.empty(staleAfterNs);
  }

  public FarmSnapshot snapshot() {
    return snapshot;
  }

  /**
   * Why {@code node} must get no new connections now, or {@code null}: see {@link
   * FarmSnapshot#refusal}.
   */
  public String refusal(String node) {
    return snapshot.refusal(node, nanoClock.getAsLong());
  }

  /**
   * Calls {@code listener} with each new snapshot (a view, an accepted report), on the sync plane's
   * threads, one call at a time; it must be quick.
   */
  public void onChange(java.util.function.Consumer<FarmSnapshot> listener) {
    listeners.add(listener);
  }

  private void changed() { // under this
    FarmSnapshot s = snapshot;
    for (var l : listeners) l.accept(s);
  }

  /** A new view: its members' names. */
  public synchronized void view(Set<String> members) {
    FarmSnapshot s = snapshot;
    Map<String, FarmSnapshot.Heard> reports = new HashMap<>(s.reports());
    reports.keySet().retainAll(members);
    snapshot = new FarmSnapshot(new HashSet<>(members), reports, s.staleAfterNs());
    remember(members);
    viewChanges.increment();
    logChanges();
    changed();
  }

  /**
   * A report that passed its seal. Refused (false) when it does not supersede the node's latest
   * one: a replayed or reordered report must not bring back an old state.
   */
  public synchronized boolean report(NodeReport report) {
    FarmSnapshot s = snapshot;
    FarmSnapshot.Heard previous = s.reports().get(report.node());
    if (previous != null && !report.supersedes(previous.report())) {
      reportsReplayed.increment();
      return false;
    }
    Map<String, FarmSnapshot.Heard> reports = new HashMap<>(s.reports());
    reports.put(report.node(), new FarmSnapshot.Heard(report, nanoClock.getAsLong()));
    snapshot = new FarmSnapshot(s.view(), reports, s.staleAfterNs());
    if (!known.contains(report.node())) remember(Set.of(report.node()));
    reportsAccepted.increment();
    logChanges();
    changed();
    return true;
  }

  /** Every node seen in a view or heard from since this process started, sorted. */
  public Set<String> knownNodes() {
    return known;
  }

  private void remember(Set<String> nodes) { // under this
    if (known.containsAll(nodes)) return;
    Set<String> all = new java.util.TreeSet<>(known);
    all.addAll(nodes);
    known = java.util.Collections.unmodifiableSet(all);
  }

  /**
   * Logs each node whose eligibility changed since the last call (called on changes and by a
   * timer).
   */
  public synchronized void logChanges() {
    FarmSnapshot s = snapshot;
    long now = nanoClock.getAsLong();
    Set<String> nodes = new HashSet<>(s.view());
    nodes.addAll(logged.keySet());
    for (String node : nodes) {
      String why = s.refusal(node, now);
      String kind = why == null ? "" : why.startsWith("no load report for") ? "stale" : why;
      String before = logged.get(node);
      if (kind.equals(before)) continue;
      if (why == null) {
        log.info("sync: node {} may take new connections", node);
      } else if (before != null) { // a node that just joined has sent no report yet: not news
        log.warn("sync: node {} gets no new connections: {}", node, why);
      }
      if (s.view().contains(node)) logged.put(node, kind);
      else logged.remove(node);
    }
  }
}
