package io.baton.cli.farm;

import io.baton.cli.Baton;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the farms of real Baton processes ({@link ProcessFarm}, {@link EcmpFarm}) share: the
 * command line of a node process, started the way an operator starts it, and a node's metrics
 * as its Prometheus endpoint (127.0.0.1:9400 in its namespace) serves them. Stateless.
 */
final class NodeProcesses {
  private NodeProcesses() {}

  /** {@code java ... io.baton.cli.Baton ARGS} with this JVM's class path, small heap and fast start. */
  static List<String> baton(String... args) {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"), Baton.class.getName()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** The node's metrics, name{labels} -> value; empty if the endpoint does not answer. */
  static Map<String, Double> scrape(Host host) {
    CommandResult r = host.exec(List.of("curl", "-s", "--max-time", "3", "http://127.0.0.1:9400/metrics"),
        Duration.ofSeconds(10));
    Map<String, Double> out = new HashMap<>();
    if (!r.succeeded()) return out;
    for (String line : r.stdout().split("\n")) {
      if (line.isBlank() || line.startsWith("#")) continue;
      int space = line.lastIndexOf(' ');
      try {
        out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
      } catch (RuntimeException e) {
        // not a sample line
      }
    }
    return out;
  }
}
