package io.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code baton ctl}'s own errors: usage, a node that does not answer, an endpoint turned off. */
class CtlCommandTest {
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

  private static Path config(Path dir, String admin) throws IOException {
    return Files.writeString(
        dir.resolve("d1.yaml"),
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
          - { address: 198.18.0.100, port: 80, default-pool: web }
        pools:
          web:
            members:
              - { node: s1, fabric-address: 198.18.1.11 }
        %s
        """
            .formatted(admin));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void anUnknownCommandOrAMissingArgumentIsAUsageError(@TempDir Path dir) throws IOException {
    Path file = config(dir, "");
    Run unknown = run("ctl", "--config", file.toString(), "reboot");
    assertThat(unknown.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(unknown.err())
        .contains(
            "unknown command reboot (nodes, connections, migrate, drain, workers, reload, stats)");
    Run migrate = run("ctl", "--config", file.toString(), "migrate", "198.18.0.10:4000");
    assertThat(migrate.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(migrate.err()).contains("migrate needs CLIENT_IP:PORT VIP:PORT, or --all");
    Run deadline = run("ctl", "--config", file.toString(), "drain", "--deadline", "soon");
    assertThat(deadline.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(deadline.err()).contains("--deadline");
    Run from = run("ctl", "--config", file.toString(), "migrate", "--from", "s9", "--to", "s2");
    assertThat(from.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(from.err())
        .contains("--from s9: this config is node")
        .contains("run ctl with s9's config");
  }

  @Test
  void aNodeThatDoesNotAnswerIsNamedWithItsAddress(@TempDir Path dir) throws IOException {
    int port = freePort();
    Path file = config(dir, "admin:\n  listen: 127.0.0.1:" + port);
    Run r = run("ctl", "--config", file.toString(), "nodes");
    assertThat(r.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.err())
        .contains("cannot reach node d1 at")
        .contains(":" + port)
        .contains("is it running?");
  }

  @Test
  void anEndpointTurnedOffIsSaidSo(@TempDir Path dir) throws IOException {
    Path file = config(dir, "admin:\n  enabled: false");
    Run r = run("ctl", "--config", file.toString(), "connections");
    assertThat(r.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.err()).contains("the admin endpoint is off");
  }
}
