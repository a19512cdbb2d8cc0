package io.baton.bench;

import io.baton.linux.LinuxException;
import io.baton.linux.Netns;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace of its own for a benchmark that needs the kernel (nftables tables, sockets),
 * so that it neither sees nor disturbs the host's network. Created with {@code ip netns add} and
 * named like the lab's namespaces, {@code bt<pid>x0-jmh-<purpose>}: if the JMH fork is killed
 * before its tear-down, the next lab run's stale sweep (or {@code ip netns del}) removes the
 * leftover.
 *
 * <p>A namespace belongs to a thread, and JMH calls {@code @Benchmark} methods on its own worker
 * threads: {@link #enter()} must be called on the worker thread, i.e. from a
 * {@code @State(Scope.Thread)} object's {@code @Setup}. Confined to that thread.
 */
final class BenchNamespace implements AutoCloseable {
  private static final long COMMAND_TIMEOUT_S = 10;

  private final String name;
  private boolean entered;
  private boolean closed;

  private BenchNamespace(String name) {
    this.name = name;
  }

  /** Creates the namespace; needs root. */
  static BenchNamespace create(String purpose) throws IOException {
    String name = "bt" + ProcessHandle.current().pid() + "x0-jmh-" + purpose;
    try {
      run(List.of("ip", "netns", "add", name));
    } catch (IOException e) {
      throw new IOException(
          e.getMessage()
              + "; the kernel benchmarks need root (run as root,"
              + " or leave them out with -e 'Forwarding|Transplant')",
          e);
    }
    return new BenchNamespace(name);
  }

  String name() {
    return name;
  }

  /** Runs {@code ip -n NAME args...} (e.g. {@code link set lo up}). */
  void ip(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("ip", "-n", name));
    command.addAll(List.of(args));
    run(command);
  }

  /**
   * Adds a veth pair named {@code front} and {@code fabric}, both up: the devices a forwarding
   * table hooks (packets are never sent through them by the benchmarks).
   */
  void addFrontAndFabric() throws IOException {
    ip("link", "add", "front", "type", "veth", "peer", "name", "fabric");
    ip("link", "set", "front", "up");
    ip("link", "set", "fabric", "up");
  }

  /** Moves the calling thread into the namespace; sockets it creates from now on live there. */
  void enter() throws LinuxException {
    Netns.enter(Netns.pathOf(name));
    entered = true;
  }

  /**
   * Moves the calling thread back (if it entered) to the namespace of the JVM's main thread, which
   * never leaves the one the JVM started in, and deletes the namespace. Sockets still open keep it
   * alive, unnamed, until they are closed.
   */
  @Override
  public void close() throws IOException {
    if (closed) return;
    closed = true;
    try {
      if (entered)
        Netns.enter(Path.of("/proc", Long.toString(ProcessHandle.current().pid()), "ns", "net"));
    } finally {
      run(List.of("ip", "netns", "del", name));
    }
  }

  private static void run(List<String> command) throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    try {
      if (!process.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException(
            String.join(" ", command) + " did not finish in " + COMMAND_TIMEOUT_S + " s");
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + String.join(" ", command), e);
    }
    if (process.exitValue() != 0) {
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      throw new IOException(
          String.join(" ", command)
              + " failed (exit "
              + process.exitValue()
              + "): "
              + output.strip());
    }
  }
}
