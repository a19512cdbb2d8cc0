package io.baton.cli.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cli.farm.GatewayPair;
import io.baton.cli.farm.ProcessFarm;
import io.baton.lab.wan.WanLink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * packaging/grafana/baton-farm.json names only metrics the nodes really export: every {@code
 * baton_*} name in a panel's query is a sample name scraped from the real processes (a dispatcher
 * and two servers with the sync plane and a worker pool, a dispatcher with UDP VIPs and encap
 * pools, and a pair of WAN gateways).
 */
@Tag("lab")
class GrafanaDashboardLabTest {
  private static final Path DASHBOARD = Path.of("..", "packaging", "grafana", "baton-farm.json");
  private static final Pattern METRIC = Pattern.compile("\\bbaton_[a-z0-9_]+");

  @Test
  void everyQueryNamesAMetricTheNodesExport() throws Exception {
    Set<String> queried = new TreeSet<>();
    JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
    int queries = 0;
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        Matcher m = METRIC.matcher(target.path("expr").asText());
        while (m.find()) queried.add(m.group());
        queries++;
      }
    }
    assertThat(queries).as("queries in the dashboard").isGreaterThan(20);

    Set<String> exported = new TreeSet<>();
    String workers = "workers: { members: [ { name: w1, address: 127.0.0.1:8081 } ] }";
    try (ProcessFarm farm =
        new ProcessFarm("grafana", ProcessFarm.Options.DEFAULT.withSync("").port80(workers))
            .startAll()) {
      for (String node : java.util.List.of("d1", "s1", "s2"))
        exported.addAll(names(farm.metricsText(node)));
    }
    try (io.baton.cli.farm.RoutedFarm farm =
        new io.baton.cli.farm.RoutedFarm("grafana-routed", "").startAll()) {
      // One UDP flow, so that the per-server flow gauge has a sample.
      var answer =
          farm.client.call(
              () ->
                  io.baton.cli.farm.DnsProbe.ask(
                      new java.net.InetSocketAddress(io.baton.cli.farm.RoutedFarm.CLIENT_IP, 40053),
                      new java.net.InetSocketAddress(io.baton.cli.farm.RoutedFarm.VIP, 53),
                      "who.farm.test",
                      5000));
      assertThat(answer).as("a DNS answer through the UDP VIP").isPresent();
      exported.addAll(names(farm.metricsText("d1")));
    }
    try (GatewayPair pair =
        new GatewayPair("grafana-gw", WanLink.of(Duration.ofMillis(5), 100_000_000L), 1 << 20)) {
      assertThat(pair.register("--connections", "2").exitCode()).isZero();
      for (String node : java.util.List.of("gwa", "gwb"))
        exported.addAll(names(pair.metricsText(node)));
    }
    assertThat(exported).as("scraped").isNotEmpty();
    Set<String> missing = new TreeSet<>(queried);
    missing.removeAll(exported);
    assertThat(missing).as("queried but not exported (exported: %s)", exported).isEmpty();
  }

  /**
   * The metric names an exposition offers: every sample's name, and for a declared counter that has
   * no sample yet (a labelled one before its first event) its {@code _total} series.
   */
  private static Set<String> names(String exposition) {
    Set<String> out = new TreeSet<>();
    for (String line : exposition.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        String[] f = line.split(" ");
        if (f.length >= 4) {
          out.add(f[2]);
          if (f[3].equals("counter")) out.add(f[2] + "_total");
        }
      } else if (!line.isBlank() && !line.startsWith("#")) {
        Matcher m = Pattern.compile("^[a-zA-Z_:][a-zA-Z0-9_:]*").matcher(line);
        if (m.find()) out.add(m.group());
      }
    }
    return out;
  }
}
