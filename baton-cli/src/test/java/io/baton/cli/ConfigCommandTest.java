package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigCommandTest {
  private static final String NL = System.lineSeparator();

  private static final String CONFIG =
      """
      node:
        name: d1
        roles: [dispatcher]
        interfaces:
          front: { device: front, address: 198.18.0.1 }
          fabric: { device: fabric, address: 198.18.1.1 }
      cluster:
        key: ee16344407eb88ebdd81e0b29de92448921a96dcfcf14d509f4cae55bb22f677
      vips:
        - address: 198.18.0.100
          port: 80
          default-pool: web
          rules:
            - { name: images, path-prefix: /img/, pool: static }
      pools:
        static:
          members:
            - { node: s1, fabric-address: 198.18.1.11 }
        web:
          members:
            - { node: s2, fabric-address: 198.18.1.12 }
            - { node: s3, fabric-address: 198.18.1.13, weight: 2 }
      """;

  /** One run of {@code baton ARGS} with its output captured. */
  private record Run(int exitCode, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exitCode =
        Baton.newCommandLine()
            .setOut(new PrintWriter(out))
            .setErr(new PrintWriter(err))
            .execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  @Test
  void validFileIsOkWithASummary(@TempDir Path dir) throws IOException {
    Path file = Files.writeString(dir.resolve("d1.yaml"), CONFIG);

    Run run = run("config", "check", file.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.OK);
    assertThat(run.out())
        .isEqualTo(file + ": ok (node d1: dispatcher; 1 VIP, 2 pools, 3 members)" + NL);
    assertThat(run.err()).isEmpty();
  }

  @Test
  void invalidFileIsExactlyOneLineOnStderr(@TempDir Path dir) throws IOException {
    Path file =
        Files.writeString(dir.resolve("d1.yaml"), CONFIG.replace("weight: 2", "weight: -2"));

    Run run = run("config", "check", file.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .isEqualTo(file + ":22:58: pools.web.members[1].weight: must be 0..1000, got -2" + NL);
  }

  @Test
  void typoInAKeyIsNamedWithItsLine(@TempDir Path dir) throws IOException {
    Path file =
        Files.writeString(dir.resolve("d1.yaml"), CONFIG.replace("default-pool", "defualt-pool"));

    Run run = run("config", "check", file.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(run.err())
        .startsWith(file + ":12:5: vips[0].defualt-pool: unknown key")
        .contains("did you mean 'default-pool'?")
        .hasLineCount(1);
  }

  @Test
  void missingFileIsOneLineToo(@TempDir Path dir) {
    Path file = dir.resolve("nope.yaml");

    Run run = run("config", "check", file.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(run.err()).isEqualTo(file + ": cannot read: no such file" + NL);
  }

  @Test
  void shippedExamplesPass() {
    Path examples = Path.of("..", "config", "examples");
    for (String name :
        new String[] {
          "dispatcher.yaml",
          "server-relay.yaml",
          "server-embedded.yaml",
          "gateway.yaml",
          "dispatcher-routed.yaml",
          "server-routed.yaml"
        }) {
      Run run = run("config", "check", examples.resolve(name).toString());

      assertThat(run.exitCode()).as(run.err()).isEqualTo(ExitCode.OK);
      assertThat(run.out()).contains(": ok (node ");
    }
  }

  @Test
  void withoutAFileItIsAUsageError() {
    Run run = run("config", "check");

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.err()).contains("Missing required parameter: 'FILE'");
  }

  @Test
  void withoutAVerbItIsAUsageError() {
    Run run = run("config");

    assertThat(run.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(run.err()).contains("missing command (check)");
  }
}
