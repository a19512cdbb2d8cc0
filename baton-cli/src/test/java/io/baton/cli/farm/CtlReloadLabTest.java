package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import io.baton.lab.RstCounter;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code baton ctl reload} (what systemd's ExecReload runs, issue 14): the running dispatcher
 * starts its successor with {@code --take-over}, which takes over from it; ctl returns once the
 * successor answers. Under load (a new connection per request) nothing fails and no RST reaches the
 * client.
 */
@Tag("lab")
class CtlReloadLabTest {
  @Test
  void ctlReloadReplacesTheDispatcherProcessUnderLoadWithoutAFailure() throws Exception {
    long successor = 0;
    try (ProcessFarm farm = new ProcessFarm("ctlreload", ProcessFarm.Options.DEFAULT).startAll()) {
      try {
        RstCounter rst = RstCounter.install(farm.client);
        Process old = farm.process("d1");
        // Until the successor has handed off under it (a fixed 8 s could end first on a loaded
        // host, and the reload would then be tested without load).
        WrkUntilStopped wrk =
            WrkUntilStopped.start(
                farm.client,
                Duration.ofSeconds(60),
                ProcessFarm.url("/whoami.txt"),
                "-t1",
                "-c4",
                "--timeout",
                "8s",
                "-H",
                "Connection: close");
        farm.awaitMetric("d1", "baton_dispatcher_handoffs_total", v -> v > 100);
        CommandResult reload =
            farm.cli("d1", "ctl", "--config", farm.config("d1").toString(), "reload");
        Matcher m =
            Pattern.compile("reloaded: pid (\\d+) took over from pid (\\d+) in (\\d+) ms")
                .matcher(reload.stdout());
        assertThat(m.find()).as(reload.stdout() + reload.stderr()).isTrue();
        successor = Long.parseLong(m.group(1));
        assertThat(Long.parseLong(m.group(2))).isEqualTo(old.pid());
        assertThat(reload.exitCode()).isZero();
        assertThat(old.waitFor(60, TimeUnit.SECONDS)).as("the old dispatcher exits").isTrue();
        farm.awaitMetric("d1", "baton_dispatcher_handoffs_total", v -> v > 100);
        boolean loadedThroughout = wrk.running();
        String report = wrk.stop();
        System.out.printf("ctl reload: %s%nwrk across it:%n%s%n", reload.stdout().strip(), report);
        assertThat(loadedThroughout)
            .as("wrk still loading when the successor had handed off 100 connections")
            .isTrue();
        assertThat(report)
            .contains("requests in")
            .doesNotContain("Socket errors")
            .doesNotContain("Non-2xx");
        assertThat(FarmChecks.whoAnswered(farm, 10, ProcessFarm.VIP).keySet())
            .isSubsetOf("s1", "s2");
        assertThat(rst.received())
            .as("RSTs the client received, from %s", rst.receivedFlows())
            .isZero();
        assertThat(farm.log("d1")).contains("planned reload: started successor pid " + successor);
      } finally {
        // The successor is the dispatcher's child, not the lab's: stop it here.
        if (successor != 0) {
          var h = ProcessHandle.of(successor);
          if (h.isPresent()) {
            h.get().destroy();
            h.get().onExit().get(60, TimeUnit.SECONDS);
          }
        }
      }
    }
  }
}
