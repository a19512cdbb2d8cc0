package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Locality-aware placement (LARD) against least connections, in one run, with real processes:
 * the working set (600 objects of 16 KiB from the sample app's {@code /cached/KEY}) is larger
 * than one server's cache (360 objects) but fits in the two together. With least connections
 * every server sees every object and its cache holds ~60% of them; LARD gives each object one
 * server, so each cache holds its half. Each balance gets a farm of its own, a 4 s warm-up and a
 * 10 s measured run of wrk (new connection per request, uniformly random objects). The hit rate
 * (the servers' cache counters) is asserted to be higher with LARD; the throughput is printed.
 */
@Tag("lab")
class LocalityLabTest {
  private static final int OBJECTS = 600;
  private static final long CACHE_BYTES = 360L * io.baton.app.ContentCache.OBJECT_BYTES;
  private static final Pattern RATE = Pattern.compile("Requests/sec:\\s+([0-9.]+)");

  record Outcome(double requestsPerSecond, double hitRate, String wrk) {}

  @Test
  void lardKeepsEachObjectInOneCacheWhereLeastConnectionsSpreadsItEverywhere() throws Exception {
    Map<String, Outcome> outcomes = new LinkedHashMap<>();
    for (String balance : List.of("least-connections", "locality")) outcomes.put(balance, run(balance));
    Outcome lc = outcomes.get("least-connections");
    Outcome lard = outcomes.get("locality");
    System.out.printf("locality: working set %d objects of 16 KiB, each of 2 servers caches %d;%n"
        + "  least-connections: %.0f req/s, hit rate %.1f%%%n  locality (LARD):   %.0f req/s, hit rate %.1f%%"
        + " (throughput ratio %.2f)%n", OBJECTS, CACHE_BYTES / io.baton.app.ContentCache.OBJECT_BYTES,
        lc.requestsPerSecond(), 100 * lc.hitRate(), lard.requestsPerSecond(), 100 * lard.hitRate(),
        lard.requestsPerSecond() / lc.requestsPerSecond());
    assertThat(lard.hitRate()).as("LARD's hit rate against least connections' (%s)", lc.hitRate())
        .isGreaterThan(lc.hitRate() + 0.2);
  }

  private static Outcome run(String balance) throws Exception {
    try (ProcessFarm farm = new ProcessFarm("lard-" + balance.substring(0, 4), "", "", false, "", balance,
        CACHE_BYTES).startAll()) {
      Path script = farm.lab.dir().resolve("objects.lua");
      Files.writeString(script, """
          math.randomseed(7)
          request = function()
            return wrk.format("GET", "/cached/k" .. math.random(0, %d), { ["Connection"] = "close" })
          end
          """.formatted(OBJECTS - 1));
      wrk(farm, script, 4); // warm-up: fills the caches
      double hits0 = sum(farm, "baton_app_cache_hits_total");
      double misses0 = sum(farm, "baton_app_cache_misses_total");
      CommandResult r = wrk(farm, script, 10);
      double hits = sum(farm, "baton_app_cache_hits_total") - hits0;
      double misses = sum(farm, "baton_app_cache_misses_total") - misses0;
      Matcher m = RATE.matcher(r.stdout());
      assertThat(m.find()).as("wrk's rate in: %s", r.stdout()).isTrue();
      assertThat(r.stdout()).as("wrk saw no errors").doesNotContain("Socket errors").doesNotContain("Non-2xx");
      return new Outcome(Double.parseDouble(m.group(1)), hits / (hits + misses), r.stdout());
    }
  }

  private static CommandResult wrk(ProcessFarm farm, Path script, int seconds) {
    CommandResult r = farm.client.exec(List.of("wrk", "-t1", "-c16", "-d" + seconds + "s", "-s", script.toString(),
        ProcessFarm.url("/")), Duration.ofSeconds(seconds + 30));
    assertThat(r.exitCode()).as("wrk: %s", r.stderr()).isZero();
    return r;
  }

  private static double sum(ProcessFarm farm, String metric) {
    double total = 0;
    for (String s : ProcessFarm.SERVERS) total += farm.metric(s, metric);
    return total;
  }
}
