package io.baton.linux;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A named network namespace of the test run ({@code ip netns add bt<pid>xd00-door<n>}, with {@code
 * lo} up) and one dedicated thread that lives in it. Test code runs on that thread via {@link
 * #call}/{@link #run}, so every socket and nftables context it makes belongs to the private
 * namespace, never to the root one. {@link #close} stops the thread and deletes the namespace (and
 * with it any nftables tables made there). Test classes get one through {@link PrivateNamespace},
 * which also tags them {@code lab}.
 *
 * <p>The name follows the lab scheme {@code bt<pid>x<hex>-<member>}: the suite's leak check and
 * {@code Lab.sweepStale()} recognise it, and {@link #create} itself removes door namespaces a dead
 * test JVM left behind.
 */
final class PrivateNetns implements AutoCloseable {
  private static final long PID = ProcessHandle.current().pid();
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Pattern DOOR_NAME = Pattern.compile("bt(\\d{1,10})xd00-door\\d+");

  private final String name;
  private final ExecutorService thread;
  private final String netnsId;

  interface Body<T> {
    T call() throws Exception;
  }

  interface VoidBody {
    void run() throws Exception;
  }

  private PrivateNetns(String name, ExecutorService thread, String netnsId) {
    this.name = name;
    this.thread = thread;
    this.netnsId = netnsId;
  }

  static PrivateNetns create() throws Exception {
    sweepDeadRuns();
    String name = "bt" + PID + "xd00-door" + COUNTER.incrementAndGet();
    command("ip", "netns", "add", name);
    ExecutorService thread = null;
    try {
      command("ip", "-n", name, "link", "set", "lo", "up");
      thread =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "netns-" + name);
                t.setDaemon(true);
                return t;
              });
      Path path = Netns.pathOf(name);
      // The executor's single thread enters the namespace once and keeps it for every task.
      String id =
          thread
              .submit(
                  () -> {
                    Netns.enter(path);
                    return Netns.current();
                  })
              .get(30, TimeUnit.SECONDS);
      return new PrivateNetns(name, thread, id);
    } catch (Exception e) {
      if (thread != null) thread.shutdownNow();
      try {
        command("ip", "netns", "del", name);
      } catch (Exception suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  String name() {
    return name;
  }

  /** {@code net:[inode]} of the namespace, as the namespace thread sees it. */
  String netnsId() {
    return netnsId;
  }

  /** Runs {@code body} on the namespace's thread and returns its result, rethrowing its failure. */
  <T> T call(Body<T> body) throws Exception {
    Future<T> f =
        thread.submit(
            () -> {
              String now = Netns.current();
              if (!now.equals(netnsId)) {
                throw new IllegalStateException(
                    "namespace thread is in " + now + ", not " + netnsId);
              }
              return body.call();
            });
    try {
      return f.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception x) throw x;
      if (cause instanceof Error x) throw x;
      throw e;
    } catch (TimeoutException e) {
      f.cancel(true);
      throw e;
    }
  }

  void run(VoidBody body) throws Exception {
    call(
        () -> {
          body.run();
          return null;
        });
  }

  @Override
  public void close() throws IOException {
    thread.shutdownNow();
    try {
      boolean stopped = thread.awaitTermination(30, TimeUnit.SECONDS);
      command("ip", "netns", "del", name);
      if (!stopped)
        throw new IllegalStateException("namespace thread of " + name + " did not stop");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while deleting " + name);
    }
  }

  /** Runs a command in the root namespace; returns its output, throws when it fails. */
  static String command(String... argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", argv) + " did not finish");
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", argv) + " exited " + p.exitValue() + ": " + text);
    }
    return text;
  }

  /** Deletes door namespaces whose JVM is gone (a SIGKILLed run cannot clean up after itself). */
  private static void sweepDeadRuns() throws IOException, InterruptedException {
    Path dir = Path.of("/run/netns");
    if (!Files.isDirectory(dir)) return;
    List<String> dead = new ArrayList<>();
    try (var entries = Files.list(dir)) {
      for (Path p : entries.toList()) {
        Matcher m = DOOR_NAME.matcher(p.getFileName().toString());
        if (m.matches()) {
          long pid = Long.parseLong(m.group(1));
          if (pid != PID && !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            dead.add(p.getFileName().toString());
          }
        }
      }
    }
    for (String n : dead) {
      try {
        command("ip", "netns", "del", n);
      } catch (IOException e) {
        // another run may be sweeping it right now
      }
    }
  }
}
