package io.baton.sync;

import java.util.Map;
import java.util.Set;

/**
 * The farm as one node sees it at one moment: the members of the current view and the latest report
 * of each node heard from. Immutable; {@link FarmState} publishes a new one on every change.
 *
 * @param view the names of the current view's members
 * @param reports the latest report of each node, with its arrival time
 * @param staleAfterNs a node whose latest report is older than this gets no new connections
 */
public record FarmSnapshot(Set<String> view, Map<String, Heard> reports, long staleAfterNs) {
  /** The empty farm, before the first view. */
  public static FarmSnapshot empty(long staleAfterNs) {
    return new FarmSnapshot(Set.of(), Map.of(), staleAfterNs);
  }

  public FarmSnapshot {
    view = Set.copyOf(view);
    reports = Map.copyOf(reports);
  }

  /** A report and when it arrived ({@code System.nanoTime} scale of the receiving node). */
  public record Heard(NodeReport report, long receivedNs) {}

  /**
   * Why {@code node} must get no new connections at {@code nowNs}, or {@code null} if it may: it is
   * in the view, its latest report is fresh, and it is healthy and not draining.
   */
  public String refusal(String node, long nowNs) {
    if (!view.contains(node)) return "not a member of the sync view";
    Heard heard = reports.get(node);
    if (heard == null) return "no load report yet";
    long ageNs = nowNs - heard.receivedNs();
    if (ageNs > staleAfterNs) return "no load report for " + ageNs / 1_000_000 + " ms";
    NodeReport r = heard.report();
    if (!r.healthy()) return "its health check fails (" + r.health() + ")";
    if (r.draining()) return "draining";
    return null;
  }

  /** The latest report of {@code node}, or {@code null}. */
  public NodeReport report(String node) {
    Heard heard = reports.get(node);
    return heard == null ? null : heard.report();
  }
}
