package io.baton.cli.farm;

import io.baton.cli.Baton;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.function.Supplier;

/**
 * What the farms of real Baton processes ({@link ProcessFarm}, {@link EcmpFarm}) share: the lab and
 * its hosts, a random cluster key, each node's config file and process, started the way an operator
 * starts it ({@code baton dispatcher|server --config FILE}) and killed, stopped or signalled the
 * way tests need, and each node's metrics as its Prometheus endpoint (127.0.0.1:9400 in its
 * namespace) serves them. Closing it kills the processes and the lab.
 *
 * <p>Built and closed by one thread.
 */
public abstract class ProcessLab implements AutoCloseable {
  /** How long a node may take to come up. */
  public static final Duration START_LIMIT = Duration.ofSeconds(60);

  public final Lab lab;
  public final Map<String, Host> hosts = new LinkedHashMap<>();

  /** The farm's cluster key, random per farm (hex). */
  protected final String key;

  private final Map<String, Path> configs = new HashMap<>();
  private final Map<String, Process> processes = new HashMap<>();

  protected ProcessLab(String purpose) {
    byte[] k = new byte[32];
    new java.security.SecureRandom().nextBytes(k);
    this.key = HexFormat.of().formatHex(k);
    this.lab = Lab.create(purpose);
  }

  /** {@code dispatcher} or {@code server}: the command that runs {@code node}. */
  protected abstract String verb(String node);

  /** Writes {@code node}'s config into the lab directory; {@link #start} runs it. */
  protected void configure(String node, String yaml) throws IOException {
    Path file = lab.dir().resolve(node + ".yaml");
    Files.writeString(file, yaml);
    configs.put(node, file);
  }

  /**
   * A sample-app content directory for {@code node}: whoami.txt with its name, and big.bin (a hard
   * link).
   */
  protected Path sampleRoot(String node, Path bigFile) throws IOException {
    Path root = Files.createDirectories(lab.dir().resolve("www-" + node));
    Files.writeString(root.resolve("whoami.txt"), node + "\n");
    Files.createLink(root.resolve("big.bin"), bigFile);
    return root;
  }

  private final Map<String, Map<String, String>> environments = new HashMap<>();

  /** Environment variables the node's processes start with (e.g. BATON_LOG_FORMAT), from now on. */
  public void environment(String node, Map<String, String> variables) {
    environments.put(node, Map.copyOf(variables));
  }

  /** {@code command} run with the node's environment variables, if any ({@code env K=V ...}). */
  private List<String> withEnvironment(String node, List<String> command) {
    Map<String, String> env = environments.getOrDefault(node, Map.of());
    if (env.isEmpty()) return command;
    List<String> out = new ArrayList<>(List.of("env"));
    new java.util.TreeMap<>(env).forEach((k, v) -> out.add(k + "=" + v));
    out.addAll(command);
    return out;
  }

  /** Starts the node's process ({@code baton dispatcher|server --config FILE}). */
  public Process start(String node) {
    Process p =
        hosts
            .get(node)
            .start(
                withEnvironment(node, baton(verb(node), "--config", configs.get(node).toString())));
    processes.put(node, p);
    return p;
  }

  /**
   * A planned reload of a dispatcher node: starts {@code baton dispatcher --config FILE
   * --take-over}, which stops the running process itself; returns the old process (to wait for) and
   * makes the new one the node's.
   */
  public Process takeOver(String node) {
    Process old = processes.get(node);
    Process p =
        hosts
            .get(node)
            .start(baton("dispatcher", "--config", configs.get(node).toString(), "--take-over"));
    processes.put(node, p);
    return old;
  }

  /** The node's config file. */
  public Path config(String node) {
    return configs.get(node);
  }

  public Process process(String node) {
    return processes.get(node);
  }

  /** SIGKILL, and waits for the process to be gone. */
  public void kill9(String node) throws InterruptedException {
    Process p = processes.get(node);
    p.destroyForcibly();
    if (!p.waitFor(10, TimeUnit.SECONDS))
      throw new IllegalStateException(node + " survived SIGKILL");
  }

  /** SIGTERM (a clean stop through the shutdown hook), and waits for the exit. */
  public int stop(String node) throws InterruptedException {
    Process p = processes.get(node);
    p.destroy();
    if (!p.waitFor(30, TimeUnit.SECONDS))
      throw new IllegalStateException(node + " ignored SIGTERM for 30 s");
    return p.exitValue();
  }

  /** Sends {@code signal} (STOP, CONT, ...) to the node's process. */
  public void signal(String node, String signal) {
    CommandResult r =
        hosts.get(node).exec("kill", "-" + signal, String.valueOf(processes.get(node).pid()));
    if (!r.succeeded()) throw new IllegalStateException("kill -" + signal + ": " + r.stderr());
  }

  /** Runs {@code baton ARGS} in the node's namespace, as an operator on that host would. */
  public CommandResult cli(String node, String... args) {
    return hosts.get(node).exec(baton(args), Duration.ofSeconds(60));
  }

  /** The node's metrics endpoint's text (Prometheus exposition); empty if it does not answer. */
  public String metricsText(String node) {
    CommandResult r =
        hosts
            .get(node)
            .exec(
                List.of("curl", "-s", "--max-time", "3", "http://127.0.0.1:9400/metrics"),
                Duration.ofSeconds(10));
    return r.succeeded() ? r.stdout() : "";
  }

  /** The node's metrics, name{labels} -> value; empty if the endpoint does not answer. */
  public Map<String, Double> metrics(String node) {
    Map<String, Double> out = new HashMap<>();
    for (String line : metricsText(node).split("\n")) {
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

  /**
   * The samples of one metric {@code family} on the node (its name before the labels, e.g. {@code
   * baton_server_worker_active}), summed per value of {@code label} (e.g. per worker).
   */
  public Map<String, Double> byLabel(String node, String family, String label) {
    Map<String, Double> out = new HashMap<>();
    java.util.regex.Pattern value =
        java.util.regex.Pattern.compile("[{,]" + label + "=\"([^\"]*)\"");
    metrics(node)
        .forEach(
            (name, v) -> {
              if (!name.startsWith(family + "{")) return;
              java.util.regex.Matcher m = value.matcher(name);
              if (m.find()) out.merge(m.group(1), v, Double::sum);
            });
    return out;
  }

  /** One metric of the node now, NaN if it has none. */
  public double metric(String node, String name) {
    return metrics(node).getOrDefault(name, Double.NaN);
  }

  public void awaitMetric(String node, String name, DoublePredicate ok) throws Exception {
    awaitTrue(
        () -> {
          double v = metric(node, name);
          return !Double.isNaN(v) && ok.test(v);
        },
        START_LIMIT,
        node + " metric " + name);
  }

  /** The standard error of the node's current process, for failure messages. */
  public String log(String node) {
    return log(node, processes.get(node));
  }

  /** The standard error of {@code process}, one of the node's (e.g. the one a take-over ended). */
  public String log(String node, Process process) {
    try {
      return Files.readString(hosts.get(node).stderrOf(process));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** Polls {@code check} until it holds, failing after {@code limit}. */
  public static void awaitTrue(Callable<Boolean> check, Duration limit, String what)
      throws Exception {
    awaitTrue(check, limit, what, () -> "");
  }

  /**
   * Polls {@code check} until it holds, failing after {@code limit} with {@code what} and the
   * {@code state} seen then (e.g. the counters the check compared).
   */
  public static void awaitTrue(
      Callable<Boolean> check, Duration limit, String what, Supplier<String> state)
      throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!check.call()) {
      if (System.nanoTime() > deadline) {
        String seen = state.get();
        throw new IllegalStateException(
            "timed out after "
                + limit
                + " waiting for "
                + what
                + (seen.isEmpty() ? "" : "; " + seen));
      }
      Thread.sleep(20); // polling interval of a deadline-bounded wait
    }
  }

  /**
   * {@code java ... io.baton.cli.Baton ARGS} with this JVM's classes (in jars, with a class-data
   * archive: {@link ClassArchive}), small heap and fast start.
   */
  static List<String> baton(String... args) {
    List<String> cmd = new ArrayList<>(jvm());
    cmd.addAll(ClassArchive.jvmOptions());
    cmd.add(Baton.class.getName());
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** The JVM and its options, without a class path. */
  static List<String> jvm() {
    return List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1");
  }

  @Override
  public void close() {
    for (Process p : processes.values()) {
      if (p.isAlive()) p.destroyForcibly();
    }
    lab.close();
  }
}
