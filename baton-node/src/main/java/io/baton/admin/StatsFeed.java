package io.baton.admin;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBucket;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Label;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the stats page shows, as one JSON-ready map: the node's own metrics (the registry {@code
 * /metrics} serves, so the page and Prometheus never disagree) and, with a sync plane, the farm as
 * the node sees it. Metric names as Prometheus spells them ({@code _total} on counters); each
 * metric a list of {@code {labels, value}} points, histograms with their buckets. Stateless.
 */
final class StatsFeed {
  private StatsFeed() {}

  static Map<String, Object> snapshot(
      String node, List<String> roles, PrometheusRegistry registry, Map<String, Object> farm) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("node", node);
    out.put("roles", roles);
    out.put("timeMs", System.currentTimeMillis());
    Map<String, Object> metrics = new LinkedHashMap<>();
    for (MetricSnapshot m : registry.scrape()) {
      String name = m.getMetadata().getPrometheusName();
      List<Map<String, Object>> points = new ArrayList<>();
      switch (m) {
        case CounterSnapshot c -> {
          name = name + "_total";
          for (var p : c.getDataPoints()) points.add(point(p, p.getValue()));
        }
        case GaugeSnapshot g -> {
          for (var p : g.getDataPoints()) points.add(point(p, p.getValue()));
        }
        case HistogramSnapshot h -> {
          for (var p : h.getDataPoints()) {
            Map<String, Object> point = point(p, p.getCount());
            point.put("sum", p.getSum());
            List<double[]> buckets = new ArrayList<>();
            for (ClassicHistogramBucket b : p.getClassicBuckets()) {
              buckets.add(new double[] {b.getUpperBound(), b.getCount()});
            }
            point.put("buckets", buckets);
            points.add(point);
          }
        }
        default -> {
          continue;
        }
      }
      metrics.put(name, points);
    }
    out.put("metrics", metrics);
    if (farm != null) out.put("farm", farm);
    return out;
  }

  private static Map<String, Object> point(DataPointSnapshot p, double value) {
    Map<String, Object> labels = new LinkedHashMap<>();
    for (Label l : p.getLabels()) labels.put(l.getName(), l.getValue());
    Map<String, Object> point = new LinkedHashMap<>();
    point.put("labels", labels);
    point.put("value", value);
    return point;
  }
}
