package io.baton.cli.farm;

import io.baton.app.ContentCache;
import io.baton.lab.CommandResult;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Locality-aware placement (LARD) against least connections, in one run, with real processes
 * ({@code ./baton bench --locality}): the working set (objects of 16 KiB from the sample app's
 * {@code /cached/KEY}, a miss ~1 ms of CPU) is larger than one server's cache but fits in the two
 * together. With least connections every server sees every object and its cache holds a share of
 * them; LARD gives each object one server. Each balance gets a farm of its own (one dispatcher, two
 * servers), a warm-up and a measured run of wrk (a new connection per request, uniformly random
 * objects); the hit rate comes from the servers' cache counters.
 *
 * <p>Confined to the calling thread.
 */
public final class LocalityBench {
  private static final Pattern RATE = Pattern.compile("Requests/sec:\\s+([0-9.]+)");

  /** One balance's figures. */
  public record Outcome(String balance, double requestsPerSecond, double hitRate) {}

  /** The run's figures and its summary lines. */
  public record Result(List<Outcome> outcomes, String summary) {
    public Outcome of(String balance) {
      return outcomes.stream().filter(o -> o.balance().equals(balance)).findFirst().orElseThrow();
    }
  }

  private final PrintWriter out;
  private final int objects;
  private final int cachedObjects;
  private final Duration warmup;
  private final Duration duration;

  /**
   * @param objects the working set
   * @param cachedObjects what one server's cache holds (less than {@code objects})
   */
  public LocalityBench(
      PrintWriter out, int objects, int cachedObjects, Duration warmup, Duration duration) {
    if (cachedObjects >= objects || cachedObjects < 1) {
      throw new IllegalArgumentException(
          "one server's cache must hold fewer objects than the working set");
    }
    this.out = out;
    this.objects = objects;
    this.cachedObjects = cachedObjects;
    this.warmup = warmup;
    this.duration = duration;
  }

  public Result run() throws Exception {
    List<Outcome> outcomes = new java.util.ArrayList<>();
    for (String balance : List.of("least-connections", "locality")) {
      out.println("locality: " + balance + " ...");
      out.flush();
      outcomes.add(run(balance));
    }
    Outcome lc = outcomes.get(0);
    Outcome lard = outcomes.get(1);
    String summary =
        String.format(
            "Locality (LARD) against least connections: working set %d objects of 16 KiB,"
                + " each of 2 servers caches %d, one request per connection, wrk -c16 for %d s after %d s of warm-up%n"
                + "  least-connections: %,.0f req/s, cache hit rate %.1f%%%n"
                + "  locality (LARD):   %,.0f req/s, cache hit rate %.1f%%  (throughput ratio %.2f)%n",
            objects,
            cachedObjects,
            duration.toSeconds(),
            warmup.toSeconds(),
            lc.requestsPerSecond(),
            100 * lc.hitRate(),
            lard.requestsPerSecond(),
            100 * lard.hitRate(),
            lard.requestsPerSecond() / lc.requestsPerSecond());
    out.print(summary);
    out.flush();
    return new Result(outcomes, summary);
  }

  private Outcome run(String balance) throws Exception {
    long cacheBytes = (long) cachedObjects * ContentCache.OBJECT_BYTES;
    try (ProcessFarm farm =
        new ProcessFarm(
                "lard-" + balance.substring(0, 4),
                ProcessFarm.Options.DEFAULT.cached(balance, cacheBytes))
            .startAll()) {
      Path script = farm.lab.dir().resolve("objects.lua");
      Files.writeString(
          script,
          """
          math.randomseed(7)
          request = function()
            return wrk.format("GET", "/cached/k" .. math.random(0, %d), { ["Connection"] = "close" })
          end
          """
              .formatted(objects - 1));
      wrk(farm, script, warmup); // fills the caches
      double hits0 = sum(farm, "baton_app_cache_hits_total");
      double misses0 = sum(farm, "baton_app_cache_misses_total");
      CommandResult r = wrk(farm, script, duration);
      double hits = sum(farm, "baton_app_cache_hits_total") - hits0;
      double misses = sum(farm, "baton_app_cache_misses_total") - misses0;
      Matcher m = RATE.matcher(r.stdout());
      if (!m.find()) throw new IllegalStateException("no rate in wrk's output: " + r.stdout());
      if (r.stdout().contains("Socket errors") || r.stdout().contains("Non-2xx")) {
        throw new IllegalStateException("wrk saw errors with " + balance + ": " + r.stdout());
      }
      return new Outcome(balance, Double.parseDouble(m.group(1)), hits / (hits + misses));
    }
  }

  private static CommandResult wrk(ProcessFarm farm, Path script, Duration length) {
    CommandResult r =
        farm.client.exec(
            List.of(
                "wrk",
                "-t1",
                "-c16",
                "-d" + length.toSeconds() + "s",
                "-s",
                script.toString(),
                ProcessFarm.url("/")),
            length.plusSeconds(30));
    if (r.exitCode() != 0) throw new IllegalStateException("wrk failed: " + r.stderr());
    return r;
  }

  private static double sum(ProcessFarm farm, String metric) {
    double total = 0;
    for (String s : ProcessFarm.SERVERS) total += farm.metric(s, metric);
    return total;
  }

  /** Writes {@code result} to {@code directory}/DATE-locality.md; returns the file. */
  public static Path write(Result result, Path directory, String stamp) throws java.io.IOException {
    Files.createDirectories(directory);
    Path file = directory.resolve(stamp + "-locality.md");
    Map<String, String> rows = new LinkedHashMap<>();
    for (Outcome o : result.outcomes()) {
      rows.put(
          o.balance(),
          String.format(
              "| %s | %,.0f | %.1f%% |", o.balance(), o.requestsPerSecond(), 100 * o.hitRate()));
    }
    Files.writeString(
        file,
        "# Locality (LARD) against least connections\n\n```\n"
            + result.summary()
            + "```\n\n"
            + "| balance | req/s | cache hit rate |\n|---|---:|---:|\n"
            + String.join("\n", rows.values())
            + "\n");
    return file;
  }
}
