package io.baton.lab;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a setup command (iproute2, sysctl, ...) to completion from an argument list, never a shell
 * string, with stdin from /dev/null and both output streams captured. Every wait is bounded: a
 * command that outlives its timeout is killed and reported.
 *
 * <p>Stateless and thread-safe. The child inherits the calling thread's network namespace, so
 * callers that mean a particular namespace say so in the command ({@code ip -n}, {@code ip netns
 * exec}) instead of relying on the thread they run on.
 */
public final class CommandRunner {
  /** Long enough for any one iproute2 call on a busy machine, short enough to fail a stuck run. */
  static final Duration SETUP_TIMEOUT = Duration.ofSeconds(20);

  private static final Duration KILL_WAIT = Duration.ofSeconds(5);

  private CommandRunner() {}

  /** Runs {@code command} to completion (killed after {@code timeout}); its output and exit. */
  public static CommandResult run(List<String> command, Duration timeout) {
    Process process;
    try {
      process =
          new ProcessBuilder(command)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
    } catch (IOException e) {
      throw new LabException(
          "cannot start `" + String.join(" ", command) + "`: " + e.getMessage(), e);
    }
    CompletableFuture<String> stdout = drain(process.getInputStream());
    CompletableFuture<String> stderr = drain(process.getErrorStream());
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        throw new LabException(
            "command `"
                + String.join(" ", command)
                + "` did not finish within "
                + timeout
                + "; killed it");
      }
      // Output may still be held open by a grandchild that outlives the command: bound that too.
      return new CommandResult(
          command,
          process.exitValue(),
          stdout.get(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS),
          stderr.get(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS));
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new LabException("interrupted while running `" + String.join(" ", command) + "`", e);
    } catch (ExecutionException | TimeoutException e) {
      process.destroyForcibly();
      throw new LabException("cannot read the output of `" + String.join(" ", command) + "`", e);
    }
  }

  static CommandResult runOrThrow(List<String> command) {
    return run(command, SETUP_TIMEOUT).orThrow();
  }

  private static CompletableFuture<String> drain(InputStream in) {
    CompletableFuture<String> result = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("lab-command-output")
        .start(
            () -> {
              try (in) {
                result.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
              } catch (IOException e) {
                result.completeExceptionally(new UncheckedIOException(e));
              }
            });
    return result;
  }
}
