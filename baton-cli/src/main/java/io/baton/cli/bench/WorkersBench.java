package io.baton.cli.bench;

import io.baton.cli.farm.Nginx;
import io.baton.cli.farm.ProcessFarm;
import io.baton.cli.farm.ProcessLab;
import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What each of the worker layer's delivery paths costs a server ({@code ./baton bench --workers}):
 * the same small download, one request per connection, through
 *
 * <ul>
 *   <li><b>relay</b>: handed off, restored by the agent and spliced to one of two nginx workers;
 *   <li><b>pass</b>: handed off, restored, and the socket passed to one of two C workers
 *       (SCM_RIGHTS), which answer on it themselves;
 *   <li><b>direct</b>: clients addressing a server itself, the kernel's DNAT to two nginx workers
 *       (no dispatcher, no agent on the path).
 * </ul>
 *
 * For each: requests per second, and the CPU time (user + system, from /proc) that the server
 * agents and the workers spent per request. Softirq work is charged by this kernel to whichever
 * task is running, so these are process figures, not the whole node's.
 *
 * <p>Confined to the calling thread.
 */
public final class WorkersBench {
  /** One path's figures. */
  public record Row(
      String path,
      long requests,
      double seconds,
      long errors,
      double agentUsPerRequest,
      double workersUsPerRequest) {
    public double requestsPerSecond() {
      return requests / seconds;
    }
  }

  private final PrintWriter out;
  private final Path cSource;
  private final Duration warmup;
  private final Duration duration;

  /**
   * @param cSource the C example worker's source ({@code
   *     baton-worker/src/main/c/baton_file_worker.c})
   */
  public WorkersBench(PrintWriter out, Path cSource, Duration warmup, Duration duration) {
    this.out = out;
    this.cSource = cSource;
    this.warmup = warmup;
    this.duration = duration;
  }

  public List<Row> run() throws Exception {
    List<Row> rows = new ArrayList<>();
    for (String path : List.of("relay", "pass", "direct")) {
      Row row = measure(path);
      out.printf(
          "%-6s %,8.0f req/s  agents %6.1f µs/req  workers %6.1f µs/req  (%,d requests, %d errors)%n",
          row.path(),
          row.requestsPerSecond(),
          row.agentUsPerRequest(),
          row.workersUsPerRequest(),
          row.requests(),
          row.errors());
      out.flush();
      rows.add(row);
    }
    return rows;
  }

  private Row measure(String path) throws Exception {
    String members =
        path.equals("pass")
            ? "{ name: w1, socket: %1$s/{server}-w1.sock }, { name: w2, socket: %1$s/{server}-w2.sock }"
            : "{ name: w1, address: 127.0.0.1:8081 }, { name: w2, address: 127.0.0.1:8082 }";
    Path socketDir = Files.createTempDirectory(Path.of("/tmp"), "baton-wbench");
    String delivery =
        ("workers: { balance: least-connections, members: ["
                + members
                + "]"
                + (path.equals("direct") ? ", direct: {address}:80" : "")
                + " }")
            .formatted(socketDir);
    try (ProcessFarm farm =
        new ProcessFarm("wbench-" + path, ProcessFarm.Options.DEFAULT.port80(delivery))) {
      Path binary = farm.lab.dir().resolve("baton_file_worker");
      if (path.equals("pass")) {
        CommandResult cc =
            farm.client.exec(
                List.of("cc", "-O2", "-pthread", "-o", binary.toString(), cSource.toString()),
                Duration.ofSeconds(60));
        if (cc.exitCode() != 0)
          throw new IllegalStateException("cannot build the C worker: " + cc.stderr());
      }
      List<Process> workers = new ArrayList<>();
      for (String s : ProcessFarm.SERVERS) {
        Host host = farm.hosts.get(s);
        for (int w = 1; w <= 2; w++) {
          Path root = Files.createDirectories(farm.lab.dir().resolve("www-" + s + "-w" + w));
          Files.write(root.resolve("1k.bin"), new byte[1024]);
          Files.writeString(root.resolve("whoami.txt"), s + "-w" + w + "\n");
          if (path.equals("pass")) {
            Path socket = socketDir.resolve(s + "-w" + w + ".sock");
            workers.add(
                host.start(
                    List.of(binary.toString(), socket.toString(), root.toString(), s + "-w" + w)));
            ProcessLab.awaitTrue(
                () -> Files.exists(socket), Duration.ofSeconds(30), "the C worker's socket");
          } else {
            workers.add(Nginx.startWorker(host, farm.lab.dir(), s + "-w" + w, root, 8080 + w));
          }
        }
      }
      farm.startAll();
      // Direct: clients address one server; the others through the VIP, spread over both.
      String url = path.equals("direct") ? "http://198.18.0.11/1k.bin" : ProcessFarm.url("/1k.bin");
      List<Long> pids = new ArrayList<>();
      List<Long> agents = new ArrayList<>();
      for (String s : ProcessFarm.SERVERS) agents.add(farm.process(s).pid());
      wrk(farm, url, warmup);
      long agentBefore = ticks(agents);
      for (Process p : workers) {
        pids.add(p.pid());
        p.descendants().forEach(d -> pids.add(d.pid()));
      }
      long workersBefore = ticks(pids);
      Wrk.Result r = wrk(farm, url, duration);
      long agentTicks = ticks(agents) - agentBefore;
      long workerTicks = ticks(pids) - workersBefore;
      return new Row(
          path,
          r.requests(),
          r.seconds(),
          r.errors(),
          (double) agentTicks * CpuTimes.MICROS_PER_TICK / r.requests(),
          (double) workerTicks * CpuTimes.MICROS_PER_TICK / r.requests());
    } finally {
      try (Stream<Path> files = Files.list(socketDir)) {
        for (Path p : files.toList()) Files.deleteIfExists(p);
      }
      Files.deleteIfExists(socketDir);
    }
  }

  private static Wrk.Result wrk(ProcessFarm farm, String url, Duration length) throws Exception {
    CommandResult r =
        farm.client.exec(
            List.of(
                "wrk",
                "-t1",
                "-c16",
                "-d" + length.toSeconds() + "s",
                "--timeout",
                "5s",
                "-H",
                "Connection: close",
                url),
            length.plusSeconds(30));
    if (r.exitCode() != 0) throw new IllegalStateException("wrk failed: " + r.stderr());
    return Wrk.parse(r.stdout(), r.stderr());
  }

  private static long ticks(List<Long> pids) {
    return pids.stream().mapToLong(BenchProcess::ticksOf).sum();
  }

  /** The report: a table and how it was made. */
  public String report(List<Row> rows, String title) {
    StringBuilder b = new StringBuilder(title).append("\n\n");
    b.append("One request per connection (`Connection: close`), a 1 KiB file, wrk -t1 -c16 for ")
        .append(duration.toSeconds())
        .append(" s after ")
        .append(warmup.toSeconds())
        .append(
            " s of warm-up; two workers per server. CPU: user + system time of the processes (from /proc),"
                + " per request.\n\n");
    b.append(
        "| path | req/s | server agents µs/req | workers µs/req | requests | errors |\n|---|---:|---:|---:|---:|---:|\n");
    for (Row r : rows) {
      b.append(
          String.format(
              "| %s | %,.0f | %.1f | %.1f | %,d | %d |%n",
              r.path(),
              r.requestsPerSecond(),
              r.agentUsPerRequest(),
              r.workersUsPerRequest(),
              r.requests(),
              r.errors()));
    }
    b.append("\n* relay: handed off, restored, spliced to nginx over loopback.\n")
        .append(
            "* pass: handed off, restored, the socket passed to the C example worker (SCM_RIGHTS).\n")
        .append(
            "* direct: clients address server s1 itself; nftables DNAT to nginx, no dispatcher or agent.\n");
    return b.toString();
  }
}
