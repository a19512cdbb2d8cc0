package io.baton.cli.bench;

import io.baton.cli.ExitCode;
import io.baton.cli.HostNotReadyException;
import io.baton.linux.LinuxProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code baton bench}: Baton against HAProxy, an nginx reverse proxy and direct access, side by
 * side in one run in lab namespaces, with wrk. Prints progress, the results table and a summary
 * whose last line is the verdict; writes Markdown, JSON and a PNG chart under {@code
 * bench/results/}. See bench/README.md.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark Baton against HAProxy, an nginx reverse proxy and direct access in lab namespaces"
          + " (client, balancer node lb, servers s1-s3): requests/s, latency, errors, bytes through"
          + " the balancer and its CPU per request (balancer pinned to CPU 0, everything else to CPU 1)."
          + " Needs root, 2 CPUs, wrk, nginx and haproxy.",
      "Full mode takes under 30 minutes; --quick a few.",
    })
public final class BenchCommand implements Callable<Integer> {
  private static final List<String> DEFAULT_SIZES = List.of("1k", "16k", "256k", "1m");

  @Spec CommandSpec spec;

  @Option(
      names = "--locality",
      description =
          "Instead of the matrix: LARD (balance: locality) against least connections, with a working set"
              + " larger than one server's cache (hit rate and throughput, one run, a few minutes).")
  boolean locality;

  @Option(
      names = "--gateway",
      description =
          "Instead of the matrix: the WAN gateway pair against direct TCP and single-connection splitting"
              + " over an emulated 100 Mbit/s, 50 ms RTT WAN at 0.1, 1 and 2 %% loss (goodput, first byte, gateway CPU per MB;"
              + " a few minutes, --quick: 1 %% only).")
  boolean gateway;

  @Option(
      names = "--workers",
      description =
          "Instead of the matrix: what the worker layer's delivery paths cost a server (relay to nginx,"
              + " the socket passed to the C example worker, the kernel's DNAT for direct clients): req/s and agent and"
              + " worker CPU per request, one request per connection (a few minutes).")
  boolean workers;

  @Option(
      names = "--routed",
      description =
          "Instead of the matrix: the dispatcher node's CPU per forwarded packet, unchanged on one"
              + " segment (nftables fwd) against encapsulated across a router (BPF), and new UDP flows"
              + " per second per dispatcher core (a few minutes).")
  boolean routed;

  @Option(
      names = "--quick",
      description = "One short repeat of everything (a few minutes) instead of the full run.")
  boolean quick;

  @Option(
      names = "--systems",
      split = ",",
      paramLabel = "NAME",
      description =
          "Systems to measure, in order (default: all): direct-nginx, haproxy, nginx-proxy, baton-relay,"
              + " direct-app, baton-embedded.")
  List<String> systems;

  @Option(
      names = "--sizes",
      split = ",",
      paramLabel = "SIZE",
      description = "Response sizes (default: 1k,16k,256k,1m).")
  List<String> sizes;

  @Option(
      names = "--modes",
      split = ",",
      paramLabel = "MODE",
      description =
          "Connection modes: close (one request per connection), keep-alive, paced (one request per"
              + " connection, new connections at --paced-rate for every system; hey) (default:"
              + " close,keep-alive).")
  List<String> modes;

  @Option(
      names = "--paced-rate",
      paramLabel = "PER-SECOND",
      defaultValue = "200",
      description =
          "New connections per second of the paced mode, the same for every system and size; every"
              + " system must sustain it at every size (default: ${DEFAULT-VALUE}).")
  int pacedRate;

  @Option(
      names = "--duration",
      paramLabel = "SECONDS",
      description = "Seconds per measured run (default: 5; quick: 2).")
  Integer durationSeconds;

  @Option(
      names = "--repeats",
      description = "Repeats of every configuration, interleaved (default: 3; quick: 1).")
  Integer repeats;

  @Option(
      names = "--warmup",
      paramLabel = "SECONDS",
      description =
          "Unmeasured load after each system start, so JVMs are compiled (default: 10; quick: 3).")
  Integer warmupSeconds;

  @Option(
      names = "--latency-probe",
      paramLabel = "SECONDS",
      description =
          "Seconds of the one-connection-at-a-time latency probe per system; 0 skips it (default: 3; quick: 1).")
  Integer serialSeconds;

  @Option(
      names = "--connections",
      defaultValue = "16",
      description = "Concurrent connections of wrk (default: ${DEFAULT-VALUE}).")
  int connections;

  @Option(
      names = "--awake-cpu0",
      description =
          "Keep CPU 0 from idling during measured runs (a SCHED_IDLE spinner, its time not counted), so no"
              + " system pays the VM's wake-from-idle cost; compare with a run without it.")
  boolean awakeCpu0;

  @Option(
      names = "--output",
      paramLabel = "DIR",
      description = "Results directory (default: bench/results of the repository).")
  Path output;

  @Override
  public Integer call() throws Exception {
    if (locality) return locality();
    if (gateway) return gateway();
    if (workers) return workers();
    if (routed) return routed();
    BenchPlan plan = plan();
    checkHost(plan);
    Path repository = repository();
    Path directory = resultsDirectory(repository);
    BenchRunner.Outcome outcome =
        new BenchRunner(
                plan,
                spec.commandLine().getOut(),
                JavaLauncher.current(),
                new ReportWriter(directory, repository),
                awakeCpu0)
            .run();
    // A run with a failure or whose baselines were not at their best proves nothing: exit 1.
    return outcome.failures().isEmpty() && outcome.check().valid() ? ExitCode.OK : ExitCode.FAILURE;
  }

  private Integer locality() throws Exception {
    List<String> problems = new ArrayList<>(LinuxProbe.problems());
    if (!onPath("wrk"))
      problems.add("wrk is not installed: apt-get install wrk (./baton bench does it)");
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    Path repository = repository();
    Path directory = resultsDirectory(repository);
    int seconds = orDefault(durationSeconds, quick ? 5 : 15);
    int warm = orDefault(warmupSeconds, quick ? 3 : 5);
    var result =
        new io.baton.cli.farm.LocalityBench(
                spec.commandLine().getOut(),
                600,
                360,
                java.time.Duration.ofSeconds(warm),
                java.time.Duration.ofSeconds(seconds))
            .run();
    String stamp = stamp();
    Path file = io.baton.cli.farm.LocalityBench.write(result, directory, stamp);
    spec.commandLine().getOut().println("written: " + file);
    spec.commandLine().getOut().flush();
    return ExitCode.OK;
  }

  private Integer gateway() throws Exception {
    List<String> problems = new ArrayList<>(LinuxProbe.problems());
    if (!onPath("curl")) problems.add("curl is not installed: apt-get install curl");
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    Path repository = repository();
    Path directory = resultsDirectory(repository);
    List<Double> losses = quick ? List.of(0.01) : List.of(0.001, 0.01, 0.02);
    long bytes = quick ? 16L << 20 : 48L << 20;
    var bench =
        new GatewayBench(
            spec.commandLine().getOut(),
            bytes,
            java.time.Duration.ofSeconds(quick ? 10 : 20),
            losses,
            List.of("--connections", "4", "--congestion-control", "bbr"));
    var rows = bench.run();
    String stamp = stamp();
    Files.createDirectories(directory);
    Path file = directory.resolve(stamp + "-gateway.md");
    Files.writeString(
        file,
        bench.report(
            rows, "# WAN gateway: direct, split TCP and the gateway pair (" + stamp + ")"));
    spec.commandLine().getOut().println("written: " + file);
    spec.commandLine().getOut().println(bench.verdict(rows));
    spec.commandLine().getOut().flush();
    return ExitCode.OK;
  }

  private Integer routed() throws Exception {
    List<String> problems = new ArrayList<>(LinuxProbe.problems());
    for (String tool : List.of("curl", "dnsmasq", "taskset", "ethtool")) {
      if (!onPath(tool))
        problems.add(
            tool + " is not installed (./baton bench installs curl, dnsmasq-base and ethtool)");
    }
    if (!CpuSteering.hasTwoCpus()) problems.add("the CPU steering needs two CPUs");
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    Path directory = resultsDirectory(repository());
    var bench = new RoutedBench(spec.commandLine().getOut(), quick ? 2 : 8, quick ? 2_000 : 20_000);
    var result = bench.run();
    String stamp = stamp();
    Files.createDirectories(directory);
    Path file = directory.resolve(stamp + "-routed.md");
    Files.writeString(
        file,
        bench.report(
            result,
            "# Routed fabrics: forwarding direct against encapsulated, and UDP flows ("
                + stamp
                + ")"));
    spec.commandLine().getOut().println("written: " + file);
    spec.commandLine().getOut().flush();
    return result.udp().answered() == result.udp().flows() ? ExitCode.OK : ExitCode.FAILURE;
  }

  private Integer workers() throws Exception {
    List<String> problems = new ArrayList<>(LinuxProbe.problems());
    for (String tool : List.of("wrk", "nginx", "cc")) {
      if (!onPath(tool))
        problems.add(tool + " is not installed (./baton bench installs wrk, nginx-light and gcc)");
    }
    Path repository = repository();
    Path source =
        (repository != null ? repository : Path.of("").toAbsolutePath())
            .resolve("baton-worker/src/main/c/baton_file_worker.c");
    if (!Files.isRegularFile(source))
      problems.add("the C example worker's source is not at " + source);
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    Path directory = resultsDirectory(repository);
    var bench =
        new WorkersBench(
            spec.commandLine().getOut(),
            source,
            java.time.Duration.ofSeconds(orDefault(warmupSeconds, quick ? 3 : 10)),
            java.time.Duration.ofSeconds(orDefault(durationSeconds, quick ? 5 : 15)));
    var rows = bench.run();
    String stamp = stamp();
    Files.createDirectories(directory);
    Path file = directory.resolve(stamp + "-workers.md");
    Files.writeString(
        file,
        bench.report(
            rows, "# Worker layer: what each delivery path costs a server (" + stamp + ")"));
    spec.commandLine().getOut().println("written: " + file);
    spec.commandLine().getOut().flush();
    long errors = rows.stream().mapToLong(WorkersBench.Row::errors).sum();
    return errors == 0 ? ExitCode.OK : ExitCode.FAILURE;
  }

  BenchPlan plan() {
    try {
      List<SystemKind> s =
          systems == null
              ? List.of(SystemKind.values())
              : systems.stream().map(SystemKind::parse).distinct().toList();
      List<ResponseSize> z =
          (sizes == null ? DEFAULT_SIZES : sizes).stream().map(ResponseSize::parse).toList();
      List<ConnectionMode> m = new ArrayList<>();
      for (String mode : modes == null ? List.of("close", "keep-alive") : modes) {
        m.add(
            switch (mode.strip()) {
              case "close" -> ConnectionMode.CLOSE;
              case "keep-alive" -> ConnectionMode.KEEP_ALIVE;
              case "paced" -> ConnectionMode.PACED;
              default ->
                  throw new IllegalArgumentException(
                      "unknown mode '" + mode + "'; known: close, keep-alive, paced");
            });
      }
      int duration = orDefault(durationSeconds, quick ? 2 : 5);
      int warmup = orDefault(warmupSeconds, quick ? 3 : 10);
      int serial = orDefault(serialSeconds, quick ? 1 : 3);
      int r = orDefault(repeats, quick ? 1 : 3);
      if (duration < 1
          || duration > 600
          || warmup < 1
          || warmup > 60
          || serial < 0
          || serial > 60) {
        throw new IllegalArgumentException(
            "--duration must be 1..600, --warmup 1..60, --latency-probe 0..60");
      }
      if (r < 1 || r > 50 || connections < 1 || connections > 10_000) {
        throw new IllegalArgumentException("--repeats must be 1..50 and --connections 1..10000");
      }
      if (pacedRate < 1 || pacedRate > 20_000) {
        throw new IllegalArgumentException("--paced-rate must be 1..20000");
      }
      return new BenchPlan(
          s,
          z,
          m.stream().distinct().toList(),
          Duration.ofSeconds(duration),
          Duration.ofSeconds(warmup),
          Duration.ofSeconds(serial),
          r,
          connections,
          m.contains(ConnectionMode.PACED) ? pacedRate : 0);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  private static void checkHost(BenchPlan plan) {
    List<String> problems = new ArrayList<>(LinuxProbe.problems());
    if (!CpuSteering.hasTwoCpus())
      problems.add(
          "the benchmark pins the balancer to CPU 0 and the rest to CPU 1: it needs 2 CPUs");
    List<String> tools = new ArrayList<>(List.of("wrk", "taskset", "curl"));
    if (plan.systems().stream().anyMatch(s -> s.usesNginxServers() || s == SystemKind.NGINX_PROXY))
      tools.add("nginx");
    if (plan.systems().contains(SystemKind.HAPROXY)) tools.add("haproxy");
    for (String tool : tools) {
      if (!onPath(tool))
        problems.add(
            tool
                + " is not installed: apt-get install "
                + packageOf(tool)
                + " (./baton bench does it)");
    }
    if (!problems.isEmpty())
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
  }

  /** The results' file name stem: the UTC minute, {@code 2026-11-30-0819}. */
  private static String stamp() {
    return java.time.LocalDateTime.now(java.time.ZoneOffset.UTC)
        .format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd-HHmm"));
  }

  /**
   * {@code --output}, or bench/results of the repository (of the working directory outside one).
   */
  private Path resultsDirectory(Path repository) {
    return output != null
        ? output
        : (repository != null ? repository : Path.of("").toAbsolutePath()).resolve("bench/results");
  }

  private static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) return true;
    }
    return false;
  }

  private static String packageOf(String tool) {
    return switch (tool) {
      case "nginx" -> "nginx-light";
      case "taskset" -> "util-linux";
      default -> tool;
    };
  }

  /** The repository this Baton was built in (…/baton-cli/target/{baton.jar,classes}), or null. */
  private static Path repository() {
    Path source = JavaLauncher.codeSource();
    if (source == null) return null;
    Path candidate = source.toAbsolutePath().getParent();
    for (int i = 0; i < 3 && candidate != null; i++, candidate = candidate.getParent()) {
      if (Files.isRegularFile(candidate.resolve("pom.xml"))
          && Files.isDirectory(candidate.resolve("baton-cli"))) {
        return candidate;
      }
    }
    return null;
  }

  private static int orDefault(Integer value, int fallback) {
    return value == null ? fallback : value;
  }
}
