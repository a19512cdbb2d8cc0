package io.baton.cli.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.Host;
import io.baton.lab.Lab;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The capabilities a shipped systemd unit grants are enough for what its role loads into the kernel
 * beyond nftables: a JVM limited to the unit's {@code CapabilityBoundingSet} (setpriv, as root: its
 * capabilities are then exactly that set) loads the dispatcher's socket filter and flow forwarder,
 * or the server's unwrapping program and raw socket. Found this way: the verifier refuses the flow
 * forwarder without CAP_PERFMON, and the server unit had no CAP_BPF nor CAP_NET_RAW.
 */
@Tag("lab")
class UnitCapabilitiesLabTest {
  private static final Path UNITS = Path.of("..", "packaging", "systemd");

  @ParameterizedTest
  @ValueSource(strings = {"dispatcher", "server"})
  void theUnitsCapabilitiesLoadWhatTheRoleNeeds(String role) throws Exception {
    String unit = Files.readString(UNITS.resolve("baton-" + role + ".service"));
    Matcher m = Pattern.compile("(?m)^CapabilityBoundingSet=(.*)$").matcher(unit);
    assertThat(m.find()).isTrue();
    StringBuilder bounding = new StringBuilder("-all");
    for (String cap : m.group(1).strip().split("\\s+")) {
      bounding.append(",+").append(cap.toLowerCase(Locale.ROOT).replaceFirst("^cap_", ""));
    }
    assertOk(role, bounding.toString());
  }

  /**
   * Peer mode clears its listener's interface binding on each connection it serves itself, which
   * takes CAP_NET_RAW: without it the node refuses to start, naming the capability.
   */
  @Test
  void withoutNetRawAPeerNodeSaysWhyItCannotStart() throws Exception {
    assertOk("unbind", "-all,+net_admin,+net_raw");
    CommandResult refused = probe("unbind", "-all,+net_admin");
    assertThat(refused.stdout().strip())
        .as("unbind with -all,+net_admin: %s", refused.stderr())
        .startsWith("peer mode binds the VIP listeners to front")
        .contains("needs CAP_NET_RAW");
  }

  /** {@link CapabilityProbe} for {@code role}, limited to {@code bounding}, printed "ok". */
  private static void assertOk(String role, String bounding) throws Exception {
    CommandResult r = probe(role, bounding);
    assertThat(r.stdout().strip()).as("%s with %s: %s", role, bounding, r.stderr()).isEqualTo("ok");
  }

  /** Runs {@link CapabilityProbe} for {@code role} in a lab host, limited to {@code bounding}. */
  private static CommandResult probe(String role, String bounding) throws Exception {
    try (Lab lab = Lab.create("caps-" + role)) {
      Host h = lab.host("h");
      h.attach(lab.segment("front"), "198.18.0.1/24");
      h.attach(lab.segment("fabric"), "198.18.1.1/24");
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "setpriv",
                  "--bounding-set=" + bounding,
                  "--",
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "--enable-native-access=ALL-UNNAMED",
                  "-cp",
                  System.getProperty("java.class.path"),
                  CapabilityProbe.class.getName(),
                  role,
                  "front",
                  "fabric"));
      return h.exec(cmd, Duration.ofSeconds(60));
    }
  }
}
