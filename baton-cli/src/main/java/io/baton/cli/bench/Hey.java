package io.baton.cli.bench;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The load generator of {@link ConnectionMode#PACED}: hey (Debian's package) in the client host,
 * pinned to {@link CpuSteering#OTHERS_CPU}, its workers each held to an equal share of one rate
 * ({@code -q}, a ticker per worker) and each request on a new connection ({@code
 * -disable-keepalive}, which sends {@code Connection: close}). So every system is measured at the
 * same load, and pays the same share of the VM's wake-ups from idle per request. wrk cannot pace
 * new connections (its Lua {@code delay()} holds each new connection idle between its connect and
 * its request); httperf paces them but spins a whole CPU, the farm's.
 *
 * <p>Reads hey's summary into a {@link Wrk.Result}: requests are the answers, errors hey's error
 * total plus answers outside 2xx/3xx. The run's length is its schedule's, not hey's total time:
 * each worker sends at every tick of its ticker (period {@code workers / rate}, the first one
 * period after the start) until the duration is over, and once more at the first tick after it (it
 * checks for the end before it waits for the tick), so a run that kept the pace answered {@code
 * rate} requests per second of {@code ceil(duration / period)} periods; a system too slow for the
 * pace makes workers miss ticks and answers fewer. (A worker still waiting for an answer when the
 * run ends skips that last tick: up to one period per worker less, {@code period / duration} of the
 * rate: 1.6 % at the default 200/s over 5 s, none when the period divides the duration.) hey's
 * total adds the last answers' latency, which on a short run would count as a missed pace.
 * Stateless.
 */
final class Hey {
  private static final Pattern TOTAL = Pattern.compile("Total:\\s+([\\d.]+) secs");
  private static final Pattern STATUS =
      Pattern.compile("^\\s+\\[(\\d{3})]\\s+(\\d+) responses", Pattern.MULTILINE);
  private static final Pattern ERROR = Pattern.compile("^\\s+\\[(\\d+)]\\s+\\S", Pattern.MULTILINE);

  /** A request without an answer for this long counts as an error. */
  private static final int TIMEOUT_SECONDS = 5;

  /** How much longer than its duration hey may take before it is killed. */
  private static final Duration GRACE = Duration.ofSeconds(30);

  private Hey() {}

  /**
   * @param workers concurrent workers; each sends {@code rate / workers} requests per second at
   *     most
   */
  static Wrk.Result run(Host client, String url, int rate, int workers, Duration duration)
      throws IOException {
    List<String> cmd =
        List.of(
            "hey",
            "-z",
            Math.max(1, duration.toSeconds()) + "s",
            "-c",
            String.valueOf(workers),
            "-q",
            String.format(Locale.ROOT, "%.3f", (double) rate / workers),
            "-t",
            String.valueOf(TIMEOUT_SECONDS),
            "-disable-keepalive",
            url);
    CommandResult r =
        client.exec(CpuSteering.pinned(CpuSteering.OTHERS_CPU, cmd), duration.plus(GRACE));
    Wrk.Result hey = parse(r.stdout(), r.stderr());
    return new Wrk.Result(
        hey.requests(),
        scheduleSeconds(rate, workers, Math.max(1, duration.toSeconds())),
        hey.latencyP50Us(),
        hey.latencyP99Us(),
        hey.socketErrors(),
        hey.non2xx());
  }

  /** The length of the ticks hey's workers send at in a run of {@code seconds} (see above). */
  static double scheduleSeconds(int rate, int workers, long seconds) {
    double period = (double) workers / rate;
    return Math.ceil(seconds / period - 1e-9) * period;
  }

  /** Reads hey's summary from its standard output (and error, for the message without one). */
  static Wrk.Result parse(String out, String err) throws IOException {
    Matcher t = TOTAL.matcher(out);
    if (!t.find()) {
      throw new IOException("hey produced no summary: " + (err.isBlank() ? out : err).strip());
    }
    double seconds = Double.parseDouble(t.group(1));
    long answers = 0;
    long non2xx = 0;
    int errorsAt = out.indexOf("Error distribution:");
    String statuses = errorsAt < 0 ? out : out.substring(0, errorsAt);
    Matcher s = STATUS.matcher(statuses);
    while (s.find()) {
      int status = Integer.parseInt(s.group(1));
      long n = Long.parseLong(s.group(2));
      answers += n;
      if (status < 200 || status > 399) non2xx += n;
    }
    long errors = 0;
    if (errorsAt >= 0) {
      Matcher e = ERROR.matcher(out.substring(errorsAt));
      while (e.find()) errors += Long.parseLong(e.group(1));
    }
    return new Wrk.Result(
        answers, seconds, latencyUs(out, "50%"), latencyUs(out, "99%"), errors, non2xx);
  }

  /** A line of hey's latency distribution (" 50% in 0.0211 secs"), in µs; NaN if absent. */
  private static double latencyUs(String out, String percentile) {
    Matcher m =
        Pattern.compile(
                "^\\s+" + Pattern.quote(percentile) + " in ([\\d.]+) secs", Pattern.MULTILINE)
            .matcher(out);
    return m.find() ? Double.parseDouble(m.group(1)) * 1e6 : Double.NaN;
  }
}
