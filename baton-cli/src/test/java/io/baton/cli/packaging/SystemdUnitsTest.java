package io.baton.cli.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.CommandRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The systemd units in packaging/systemd pass {@code systemd-analyze verify} (in a root that has
 * the host's own units and a stand-in {@code /usr/bin/baton}), with no warning at all (an unknown
 * key is only a warning to systemd), and grant each role only the capabilities they name.
 */
class SystemdUnitsTest {
  private static final Path UNITS = Path.of("..", "packaging", "systemd");
  private static final List<String> ROLES = List.of("dispatcher", "server", "gateway");

  @TempDir Path root;

  @Test
  void everyUnitVerifiesCleanly() throws Exception {
    Files.createDirectories(root.resolve("usr/bin"));
    Path baton = Files.writeString(root.resolve("usr/bin/baton"), "#!/bin/sh\n");
    baton.toFile().setExecutable(true);
    Path units = Files.createDirectories(root.resolve("etc/systemd/system"));
    Files.createDirectories(root.resolve("usr/lib/systemd"));
    assertThat(
            run(
                List.of(
                    "cp",
                    "-r",
                    "/usr/lib/systemd/system",
                    root.resolve("usr/lib/systemd").toString())))
        .isEmpty();
    List<String> command =
        new ArrayList<>(List.of("systemd-analyze", "verify", "--man=no", "--root=" + root));
    for (String role : ROLES) {
      Path unit = UNITS.resolve("baton-" + role + ".service");
      Files.copy(unit, units.resolve(unit.getFileName()));
      command.add("/etc/systemd/system/baton-" + role + ".service");
    }
    assertThat(run(command)).as("systemd-analyze's complaints").isEmpty();
  }

  @Test
  void eachRoleRunsAsItsCommandWithTheCapabilitiesItNamesAndNoMore() throws Exception {
    for (String role : ROLES) {
      String unit = Files.readString(UNITS.resolve("baton-" + role + ".service"));
      assertThat(value(unit, "ExecStart"))
          .isEqualTo("/usr/bin/baton " + role + " --config /etc/baton/" + role + ".yaml");
      assertThat(value(unit, "User")).isEqualTo("baton");
      assertThat(value(unit, "NoNewPrivileges")).isEqualTo("yes");
      String ambient = value(unit, "AmbientCapabilities");
      assertThat(value(unit, "CapabilityBoundingSet")).as(role).isEqualTo(ambient);
      for (String cap : ambient.split(" ")) {
        // Every capability is explained in the comment above it.
        assertThat(unit).as(role + " explains " + cap).contains("# " + cap + ":");
      }
      assertThat(ambient).doesNotContain("CAP_SYS_ADMIN");
    }
  }

  /** Runs {@code command} with the lab's runner; its output (both streams), failing on an exit. */
  private static String run(List<String> command) {
    CommandResult r = CommandRunner.run(command, Duration.ofSeconds(60)).orThrow();
    return r.stdout() + r.stderr();
  }

  private static String value(String unit, String key) {
    Matcher m = Pattern.compile("(?m)^" + key + "=(.*)$").matcher(unit);
    assertThat(m.find()).as(key).isTrue();
    return m.group(1).strip();
  }
}
