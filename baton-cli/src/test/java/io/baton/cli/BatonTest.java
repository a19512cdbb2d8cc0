package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.LinuxException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class BatonTest {
  /** One run of the command line with its output captured. */
  private record Run(int exitCode, String out, String err) {}

  private static Run run(CommandLine cmd, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cmd.setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int exitCode = cmd.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  private static Run run(String... args) {
    return run(Baton.newCommandLine(), args);
  }

  /** The real command line, but with {@code probe} seeing the given problems. */
  private static Run probeWith(List<String> problems) {
    CommandLine cmd = Baton.newCommandLine();
    CommandLine probe = new CommandLine(new ProbeCommand(() -> problems));
    cmd.getCommandSpec().removeSubcommand("probe");
    cmd.addSubcommand("probe", probe);
    return run(cmd, "probe");
  }

  @Test
  void helpListsTheCommandsAndExitCodes() {
    Run run = run("--help");

    assertThat(run.exitCode()).isEqualTo(ExitCode.OK);
    assertThat(run.out())
        .contains("probe", "demo", "help")
        .contains("Exit codes:")
        .contains("host not ready");
  }

  /**
   * Every command's help renders cleanly: picocli prints a WARN on standard error (not the
   * command's writer) when a description is not a valid format string (a bare '%').
   */
  @Test
  void everyCommandsHelpRendersWithoutPicocliWarnings() {
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.err;
    System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
    List<String> rendered = new java.util.ArrayList<>();
    try {
      java.util.ArrayDeque<CommandLine> todo = new java.util.ArrayDeque<>();
      todo.add(Baton.newCommandLine());
      while (!todo.isEmpty()) {
        CommandLine c = todo.poll();
        rendered.add(c.getCommandName());
        assertThat(c.getUsageMessage()).isNotBlank();
        todo.addAll(c.getSubcommands().values());
      }
    } finally {
      System.setErr(original);
    }
    assertThat(rendered).contains("bench", "dispatcher", "server", "ctl");
    assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
        .doesNotContain("[picocli WARN]");
  }

  @Test
  void versionNamesBatonAndTheJavaRuntime() {
    Run run = run("--version");

    assertThat(run.exitCode()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).startsWith("baton ").contains("Java " + Runtime.version().feature());
    // Built from this clone: the commit is named (its abbreviated id, 12 hex digits).
    assertThat(run.out()).containsPattern("\\(commit [0-9a-f]{12} of 20\\d\\d-");
  }

  @Test
  void unknownOptionIsAUsageErrorOnOneLine() {
    Run run = run("--no-such-option");

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains("Unknown option: '--no-such-option'")
        .contains("Try 'baton --help'");
  }

  @Test
  void unknownCommandIsAUsageError() {
    Run run = run("prob");

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.err()).contains("probe");
  }

  @Test
  void noCommandIsAUsageError() {
    Run run = run();

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.err()).contains("missing command");
  }

  @Test
  void probeSaysHostReadyWhenThereAreNoProblems() {
    Run run = probeWith(List.of());

    assertThat(run.exitCode()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).isEqualTo("host ready" + System.lineSeparator());
  }

  @Test
  void probeListsProblemsAndExitsHostNotReady() {
    Run run = probeWith(List.of("libnftables is missing", "TCP repair is not permitted"));

    assertThat(run.exitCode()).isEqualTo(ExitCode.HOST_NOT_READY);
    assertThat(run.out())
        .contains("host not ready")
        .contains("  - libnftables is missing")
        .contains("  - TCP repair is not permitted");
  }

  @Test
  void demoRefusesAnOutOfRangeHandoffCountAsAUsageError() {
    Run run = run("demo", "--check", "--handoffs", "0");

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.err()).contains("--handoffs must be 1..100000, got 0");
  }

  @Test
  void permissionErrorsFromTheKernelMeanTheHostIsNotReady() {
    LinuxException eperm = new LinuxException("setsockopt(TCP_REPAIR)", 1);

    assertThat(ErrorHandler.exitCodeOf(eperm)).isEqualTo(ExitCode.HOST_NOT_READY);
    assertThat(ErrorHandler.messageOf(eperm)).contains("TCP_REPAIR").contains("run Baton as root");
  }

  @Test
  void otherFailuresAreOneLineWithExitCodeOne() {
    IllegalStateException e = new IllegalStateException("server B refused the handoff");

    assertThat(ErrorHandler.exitCodeOf(e)).isEqualTo(ExitCode.FAILURE);
    assertThat(ErrorHandler.messageOf(e))
        .isEqualTo("IllegalStateException: server B refused the handoff");
  }
}
