package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * wrk running in the background until the test has seen what it waits for, however long that takes
 * on the machine at hand (a fixed {@code -d} ran out before a slow take-over ended), bounded by
 * {@code limit}. {@link #stop} sends SIGINT, on which wrk prints the same report as at its end.
 */
public final class WrkUntilStopped {
  private final Host host;
  private final Process wrk;

  private WrkUntilStopped(Host host, Process wrk) {
    this.host = host;
    this.wrk = wrk;
  }

  /** Starts {@code wrk ARGS -d<limit> URL} on {@code host} (no {@code -d} in {@code args}). */
  public static WrkUntilStopped start(Host host, Duration limit, String url, String... args) {
    return start(List.of("wrk"), host, limit, url, args);
  }

  /**
   * As {@link #start}, at the lowest CPU priority ({@code nice -n 19}, which execs wrk), so that
   * what the caller runs meanwhile is not starved by the load.
   */
  public static WrkUntilStopped startNiced(Host host, Duration limit, String url, String... args) {
    return start(List.of("nice", "-n", "19", "wrk"), host, limit, url, args);
  }

  private static WrkUntilStopped start(
      List<String> wrk, Host host, Duration limit, String url, String... args) {
    List<String> command = new ArrayList<>(wrk);
    command.addAll(List.of(args));
    command.addAll(List.of("-d" + limit.toSeconds() + "s", url));
    // `ip netns exec` execs the command: the process is wrk itself, so the signal reaches it.
    return new WrkUntilStopped(host, host.start(command));
  }

  /** Stops the load (if wrk's own limit has not) and returns wrk's report. */
  public String stop() throws IOException, InterruptedException {
    if (wrk.isAlive()) {
      CommandResult kill = host.exec("kill", "-INT", String.valueOf(wrk.pid()));
      if (!kill.succeeded() && wrk.isAlive()) {
        throw new IllegalStateException("kill -INT wrk: " + kill.stderr());
      }
    }
    if (!wrk.waitFor(15, TimeUnit.SECONDS)) {
      throw new IllegalStateException("wrk did not end within 15 s of SIGINT");
    }
    return Files.readString(host.stdoutOf(wrk)) + Files.readString(host.stderrOf(wrk));
  }

  /** Whether wrk is still loading (its own limit not reached). */
  public boolean running() {
    return wrk.isAlive();
  }
}
