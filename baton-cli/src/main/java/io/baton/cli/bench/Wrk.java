package io.baton.cli.bench;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs wrk in the client host, pinned to {@link CpuSteering#OTHERS_CPU}, for a bounded time, and
 * reads its report: requests, run time, latency percentiles ({@code --latency}), socket errors and
 * non-2xx/3xx answers. Stateless.
 */
public final class Wrk {
  private static final Pattern REQUESTS =
      Pattern.compile("(\\d+) requests in ([\\d.]+)(us|ms|s|m)");
  private static final Pattern SOCKET_ERRORS =
      Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
  private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

  /** wrk's own request timeout: a stuck request counts as an error instead of stalling the run. */
  private static final String REQUEST_TIMEOUT = "5s";

  /** How much longer than its duration wrk may take before it is killed. */
  private static final Duration GRACE = Duration.ofSeconds(30);

  private Wrk() {}

  /** What one wrk run reported. Latencies in microseconds. Immutable. */
  public record Result(
      long requests,
      double seconds,
      double latencyP50Us,
      double latencyP99Us,
      long socketErrors,
      long non2xx) {
    public long errors() {
      return socketErrors + non2xx;
    }
  }

  static Result run(
      Host client, String url, int connections, ConnectionMode mode, Duration duration)
      throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "wrk",
                "-t1",
                "-c" + connections,
                "-d" + Math.max(1, duration.toMillis() / 1000) + "s",
                "--timeout",
                REQUEST_TIMEOUT,
                "--latency"));
    cmd.addAll(mode.wrkArguments());
    cmd.add(url);
    CommandResult r =
        client.exec(CpuSteering.pinned(CpuSteering.OTHERS_CPU, cmd), duration.plus(GRACE));
    return parse(r.stdout(), r.stderr());
  }

  /**
   * Reads wrk's report from its standard output (and error, for the message when there is none).
   */
  public static Result parse(String out, String err) throws IOException {
    Matcher m = REQUESTS.matcher(out);
    if (!m.find()) {
      throw new IOException("wrk produced no result: " + (err.isBlank() ? out : err).strip());
    }
    long requests = Long.parseLong(m.group(1));
    double seconds = Double.parseDouble(m.group(2)) * unitSeconds(m.group(3));
    long socketErrors = 0;
    Matcher e = SOCKET_ERRORS.matcher(out);
    if (e.find()) {
      for (int i = 1; i <= 4; i++) socketErrors += Long.parseLong(e.group(i));
    }
    Matcher n = NON_2XX.matcher(out);
    long non2xx = n.find() ? Long.parseLong(n.group(1)) : 0;
    return new Result(
        requests, seconds, latencyUs(out, "50%"), latencyUs(out, "99%"), socketErrors, non2xx);
  }

  /** A latency percentile line of {@code --latency} (" 50% 412.00us"), in µs; NaN if absent. */
  private static double latencyUs(String out, String percentile) {
    Matcher m =
        Pattern.compile(
                "^\\s+" + Pattern.quote(percentile) + "\\s+([\\d.]+)(us|ms|s|m)\\s*$",
                Pattern.MULTILINE)
            .matcher(out);
    if (!m.find()) return Double.NaN;
    return Double.parseDouble(m.group(1)) * unitSeconds(m.group(2)) * 1e6;
  }

  private static double unitSeconds(String unit) {
    return switch (unit) {
      case "us" -> 1e-6;
      case "ms" -> 1e-3;
      case "m" -> 60;
      default -> 1;
    };
  }
}
