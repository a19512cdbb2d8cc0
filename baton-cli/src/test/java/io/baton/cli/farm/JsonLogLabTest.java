package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code BATON_LOG_FORMAT=json} on the real processes (issue 14): every line a node writes to its
 * log is one JSON object, and every line about a handed-off connection carries its flow and handoff
 * id as fields (here the server's DEBUG line for each connection it takes).
 */
@Tag("lab")
class JsonLogLabTest {
  @Test
  void everyLogLineIsJsonAndConnectionLinesNameTheirFlowAndHandoff() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("jsonlog", ProcessFarm.Options.DEFAULT)) {
      for (String node : List.of("d1", "s1", "s2")) {
        farm.environment(node, Map.of("BATON_LOG_FORMAT", "json", "BATON_LOG_LEVEL", "debug"));
      }
      farm.startAll();
      Map<String, Integer> seen = FarmChecks.whoAnswered(farm, 10, ProcessFarm.VIP);
      assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(10);

      ObjectMapper json = new ObjectMapper();
      List<JsonNode> taken = new ArrayList<>();
      for (String node : List.of("d1", "s1", "s2")) {
        String log = farm.log(node);
        assertThat(log).as(node + "'s log").isNotBlank();
        for (String line : log.strip().split("\n")) {
          JsonNode n;
          try {
            n = json.readTree(line);
          } catch (java.io.IOException e) {
            throw new AssertionError(node + " wrote a line that is not JSON: " + line, e);
          }
          assertThat(n.has("level") && n.has("loggerName") && n.has("formattedMessage"))
              .as("%s: %s", node, line)
              .isTrue();
          if (n.path("formattedMessage").asText().startsWith("took ")) taken.add(n);
        }
      }
      assertThat(taken)
          .as("the servers' lines for the connections they took")
          .hasSizeGreaterThanOrEqualTo(10);
      for (JsonNode n : taken) {
        String flow = n.path("mdc").path("flow").asText();
        assertThat(flow).as(n.toString()).contains(ProcessFarm.CLIENT_IP).contains(ProcessFarm.VIP);
        assertThat(n.path("formattedMessage").asText())
            .as("the flow field is the line's flow")
            .contains(flow);
        assertThat(n.path("mdc").path("handoff").asText()).as(n.toString()).matches("[1-9][0-9]*");
      }
    }
  }
}
