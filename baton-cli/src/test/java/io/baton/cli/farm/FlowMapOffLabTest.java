package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code BATON_FLOW_MAP=off} on the real processes: the dispatcher attaches no BPF flow map and
 * nftables alone forwards the handed-off connections' later packets, byte-exact; a value it does
 * not know stops it at start with the variable's name.
 */
@Tag("lab")
class FlowMapOffLabTest {
  private static final Duration CURL = Duration.ofSeconds(60);

  @Test
  void nftablesForwardsAloneAndABadValueStopsTheStart() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("flowmap-off", ProcessFarm.Options.DEFAULT)) {
      farm.environment("d1", Map.of("BATON_FLOW_MAP", "off"));
      farm.startAll();
      RstCounter rst = RstCounter.install(farm.client);
      String expected = FarmChecks.sha256(farm.bigFile);
      for (int i = 0; i < 4; i++) {
        CommandResult r =
            farm.client.exec(
                java.util.List.of(
                    "bash",
                    "-o",
                    "pipefail",
                    "-c",
                    "curl -fsS --max-time 50 " + ProcessFarm.url("/big.bin") + " | sha256sum"),
                CURL);
        assertThat(r.exitCode()).as("download: %s%n%s", r.stderr(), farm.log("d1")).isZero();
        assertThat(r.stdout().split(" ")[0]).as("the download's SHA-256").isEqualTo(expected);
      }
      assertThat(farm.log("d1")).contains("BATON_FLOW_MAP=off: no BPF flow map");
      assertThat(farm.metric("d1", "baton_dispatcher_handoffs_total")).isEqualTo(4.0);
      assertThat(farm.metric("d1", "baton_forwarding_entries_put_ahead_total")).isZero();
      assertThat(
              farm.metric("d1", "baton_dispatcher_flow_forwarder_packets_total{path=\"direct\"}"))
          .as("no flow forwarder's packet counts")
          .isNaN();
      assertThat(rst.received())
          .as("RSTs the client received, from %s", rst.receivedFlows())
          .isZero();

      farm.stop("d1");
      farm.environment("d1", Map.of("BATON_FLOW_MAP", "no"));
      Process bad = farm.start("d1");
      assertThat(bad.waitFor(60, TimeUnit.SECONDS)).as("the dispatcher stops at start").isTrue();
      assertThat(bad.exitValue()).isNotZero();
      assertThat(farm.log("d1")).contains("BATON_FLOW_MAP must be auto, on or off, got 'no'");
    }
  }
}
