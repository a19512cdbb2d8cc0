package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code baton dispatcher} and {@code baton server} refuse bad starts with one clear line. */
class NodeCommandTest {
  @TempDir Path dir;

  private record Run(int exitCode, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cmd = Baton.newCommandLine();
    cmd.setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int code = cmd.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void aBadConfigLineStopsTheStartWithFileLineAndField() throws Exception {
    Path file = dir.resolve("d.yaml");
    Files.writeString(file, "node:\n  name: d1\n  roles: [balancer]\n");
    Run r = run("dispatcher", "--config", file.toString());
    assertThat(r.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.err().strip().lines()).hasSize(1);
    assertThat(r.err()).contains("d.yaml:3:").contains("node.roles").doesNotContain("Exception");
  }

  @Test
  void aNodeWithoutTheRoleIsRefused() throws Exception {
    Path file = dir.resolve("s.yaml");
    Files.copy(
        Path.of(System.getProperty("user.dir"))
            .resolveSibling("config/examples/server-embedded.yaml"),
        file);
    Run r = run("dispatcher", "--config", file.toString());
    assertThat(r.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.err()).contains("does not have the role dispatcher");
  }

  @Test
  void aMissingConfigOptionIsAUsageError() {
    Run r = run("server");
    assertThat(r.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(r.err()).contains("--config");
  }
}
