package io.baton.cli.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.CommandRunner;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./baton package} (scripts/package.sh) on the jar this build made: the .deb has the jar,
 * the launcher, the three units as in packaging/systemd, the config examples, the Grafana
 * dashboard, a man page generated from baton's own help, the license, and the maintainer scripts
 * that create the baton user. Runs after the package phase (failsafe), so the jar exists.
 */
class DebianPackageIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path JAR = Path.of("target", "baton.jar").toAbsolutePath();

  @TempDir Path dir;

  @Test
  void thePackageHoldsWhatAHostNeeds() throws Exception {
    // The script prints the package's path as the last line of its standard output.
    String built =
        CommandRunner.run(
                List.of(
                    ROOT.resolve("scripts/package.sh").toString(),
                    "--jar",
                    JAR.toString(),
                    "--output",
                    dir.toString()),
                Duration.ofSeconds(120))
            .orThrow()
            .stdout();
    Path deb = Path.of(built.strip().lines().reduce((a, b) -> b).orElseThrow());
    assertThat(deb).exists();
    assertThat(deb.getFileName().toString())
        .matches("baton_0\\.1\\.0~snapshot\\+git[0-9a-f]{12}_amd64\\.deb");
    System.out.printf("package %s: %,d bytes%n", deb.getFileName(), Files.size(deb));

    String control = run(List.of("dpkg-deb", "--field", deb.toString()));
    assertThat(control)
        .contains("Package: baton")
        .contains("Architecture: amd64")
        .contains("Depends: nftables, libnftables1, iproute2, procps, adduser");

    Path root = Files.createDirectories(dir.resolve("root"));
    run(List.of("dpkg-deb", "--extract", deb.toString(), root.toString()));
    assertThat(sha256(root.resolve("usr/share/baton/baton.jar"))).isEqualTo(sha256(JAR));
    assertThat(root.resolve("usr/bin/baton")).isExecutable();
    assertThat(Files.readString(root.resolve("usr/bin/baton"))).contains("-jar \"$JAR\"");
    for (String role : List.of("dispatcher", "server", "gateway")) {
      String unit = "baton-" + role + ".service";
      assertThat(Files.readString(root.resolve("lib/systemd/system").resolve(unit)))
          .isEqualTo(Files.readString(ROOT.resolve("packaging/systemd").resolve(unit)));
      assertThat(root.resolve("usr/share/baton/examples")).isDirectory();
    }
    assertThat(root.resolve("usr/share/baton/examples/dispatcher.yaml")).exists();
    assertThat(root.resolve("usr/share/baton/grafana/baton-farm.json")).exists();
    assertThat(Files.readString(root.resolve("usr/share/doc/baton/copyright")))
        .contains("Apache License")
        .contains("Netty");
    String man = gunzip(root.resolve("usr/share/man/man1/baton.1.gz"));
    assertThat(man)
        .contains(".TH BATON \"1\"")
        .contains("dispatcher")
        .contains("server")
        .contains("gateway")
        .doesNotContain("baton-for-help2man")
        // Every command's own help, not only the top level's.
        .contains(".SS \"baton ctl\"")
        .contains(".SS \"baton register\"")
        .contains("--take-over");

    Path control2 = Files.createDirectories(dir.resolve("control"));
    run(List.of("dpkg-deb", "--control", deb.toString(), control2.toString()));
    assertThat(control2.resolve("postinst")).isExecutable();
    assertThat(Files.readString(control2.resolve("postinst")))
        .contains("adduser --system --group")
        .contains("/etc/baton");
    assertThat(control2.resolve("prerm")).isExecutable();
    assertThat(control2.resolve("postrm")).isExecutable();
    assertThat(run(List.of("sh", "-n", control2.resolve("postinst").toString()))).isEmpty();
    assertThat(run(List.of("sh", "-n", root.resolve("usr/bin/baton").toString()))).isEmpty();
  }

  /** Runs {@code command} with the lab's runner; its output (both streams), failing on an exit. */
  private static String run(List<String> command) {
    CommandResult r = CommandRunner.run(command, Duration.ofSeconds(120)).orThrow();
    return r.stdout() + r.stderr();
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  private static String gunzip(Path file) throws Exception {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    }
  }
}
