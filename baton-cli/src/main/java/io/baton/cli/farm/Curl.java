package io.baton.cli.farm;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** curl as the lab's clients run it: quiet but showing errors, bounded by a timeout. */
public final class Curl {
  private Curl() {}

  /**
   * Runs {@code curl -sS --max-time T ARGS} in {@code client}'s namespace; the process is killed 5
   * s after {@code timeout} if curl has not ended by itself.
   */
  public static CommandResult from(Host client, Duration timeout, String... args) {
    List<String> cmd =
        new ArrayList<>(List.of("curl", "-sS", "--max-time", String.valueOf(timeout.toSeconds())));
    cmd.addAll(List.of(args));
    return client.exec(cmd, timeout.plusSeconds(5));
  }

  /**
   * The arguments that POST the file {@code body} to {@code url} and write the answer to {@code
   * into}, without {@code Expect: 100-continue}: the body follows the head at once, so what a
   * dispatcher does not read before its handoff crosses to the server as forwarded packets.
   */
  public static String[] post(java.nio.file.Path body, java.nio.file.Path into, String url) {
    return new String[] {"-H", "Expect:", "--data-binary", "@" + body, "-o", into.toString(), url};
  }
}
