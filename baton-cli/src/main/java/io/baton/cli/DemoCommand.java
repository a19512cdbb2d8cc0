package io.baton.cli;

import io.baton.cli.demo.FarmDemo;
import io.baton.cli.demo.TransplantDemo;
import io.baton.linux.LinuxProbe;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton demo}: builds a small farm in lab network namespaces and moves live TCP connections
 * from the host that accepted them to a server that answers the client directly, checking every
 * byte. With {@code --handoffs 1000} it doubles as the export/restore benchmark.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Build a farm in lab network namespaces (client, dispatcher d1, servers s1-s3; nginx behind"
          + " the relay on s1, the sample app on s2 and s3), route real curl and wrk traffic by"
          + " content, hand every connection off, and print requests per server, handoffs,"
          + " failures and the bytes that crossed the dispatcher. Needs root.",
      "With --transplant: the two-host transplant demo instead (a stream moved mid-flight, a curl"
          + " download served after the move, timed export/restore of many connections).",
    })
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--keep",
      description =
          "After the checks, keep the lab up and serve curl requests through handoffs until Ctrl-C.")
  boolean keep;

  @Option(
      names = "--check",
      description =
          "Verify only: never serve after the checks (overrides --keep). The exit code is non-zero on any failure either way.")
  boolean check;

  @Option(
      names = "--migrate",
      description =
          "Run the live migration demo: a server drained under keep-alive load, a"
              + " download moved mid-stream, one keep-alive connection routed per request.")
  boolean migrate;

  @Option(
      names = "--workers",
      description =
          "Run the worker pool demo: four nginx workers behind one VIP port on one"
              + " server under load, one killed and one drained mid-run.")
  boolean workers;

  @Option(
      names = "--gateway",
      description =
          "Run the WAN gateway demo: a download across an emulated lossy WAN,"
              + " direct and through a gateway pair after the remote server registers.")
  boolean gateway;

  @Option(
      names = "--routed",
      description =
          "Run the routed-fabric demo: servers behind a router, every later client packet forwarded"
              + " encapsulated, a UDP DNS VIP over two dnsmasq servers, the agent's UDP echo, an IPv6 VIP.")
  boolean routed;

  @Option(
      names = "--transplant",
      description = "Run the two-host transplant demo instead of the farm.")
  boolean transplant;

  @Option(
      names = "--dispatchers",
      defaultValue = "1",
      description =
          "1 (default): one dispatcher; 2: two dispatchers behind a BGP/ECMP router (BIRD), with the sync"
              + " plane, run as separate processes.")
  int dispatchers;

  @Option(
      names = "--load-seconds",
      defaultValue = "5",
      description = "Length of each wrk run (default: ${DEFAULT-VALUE}).")
  int loadSeconds;

  @Option(
      names = "--ttfb-samples",
      defaultValue = "200",
      description =
          "Sequential requests per side for the time-to-first-byte comparison (default: ${DEFAULT-VALUE}).")
  int ttfbSamples;

  @Option(
      names = "--handoffs",
      defaultValue = "1000",
      description =
          "With --transplant: short connections to hand off and time (default: ${DEFAULT-VALUE}).")
  int handoffs;

  @Override
  public Integer call() throws Exception {
    if (handoffs < 1 || handoffs > 100_000) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--handoffs must be 1..100000, got " + handoffs);
    }
    List<String> problems = LinuxProbe.problems();
    if (!problems.isEmpty()) {
      throw new HostNotReadyException("host not ready: " + String.join("; ", problems));
    }
    if (loadSeconds < 1 || loadSeconds > 600 || ttfbSamples < 1 || ttfbSamples > 100_000) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--load-seconds must be 1..600 and --ttfb-samples 1..100000");
    }
    if (dispatchers != 1 && dispatchers != 2) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--dispatchers must be 1 or 2, got " + dispatchers);
    }
    if (dispatchers == 2 && transplant) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--dispatchers 2 is a farm demo, not" + " --transplant");
    }
    if (migrate && (transplant || dispatchers == 2)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--migrate is a demo of its own: not with" + " --transplant or --dispatchers 2");
    }
    if (gateway && (migrate || transplant || dispatchers == 2)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--gateway is a demo of its own: not with"
              + " --migrate, --transplant or --dispatchers 2");
    }
    if (workers && (gateway || migrate || transplant || dispatchers == 2)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--workers is a demo of its own: not with"
              + " --gateway, --migrate, --transplant or --dispatchers 2");
    }
    if (routed && (workers || gateway || migrate || transplant || dispatchers == 2)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--routed is a demo of its own: not with"
              + " --workers, --gateway, --migrate, --transplant or --dispatchers 2");
    }
    boolean passed =
        routed
            ? new io.baton.cli.demo.RoutedDemo(spec.commandLine().getOut(), loadSeconds)
                .run(keep && !check)
            : workers
                ? new io.baton.cli.demo.WorkersDemo(spec.commandLine().getOut(), loadSeconds)
                    .run(keep && !check)
                : gateway
                    ? new io.baton.cli.demo.GatewayDemo(spec.commandLine().getOut())
                        .run(keep && !check)
                    : migrate
                        ? new io.baton.cli.demo.MigrateDemo(
                                spec.commandLine().getOut(), loadSeconds)
                            .run(keep && !check)
                        : transplant
                            ? new TransplantDemo(spec.commandLine().getOut(), handoffs)
                                .run(keep && !check)
                            : dispatchers == 2
                                ? new io.baton.cli.demo.EcmpDemo(
                                        spec.commandLine().getOut(), loadSeconds)
                                    .run(keep && !check)
                                : new FarmDemo(
                                        spec.commandLine().getOut(), loadSeconds, ttfbSamples)
                                    .run(keep && !check);
    return passed ? ExitCode.OK : ExitCode.FAILURE;
  }
}
