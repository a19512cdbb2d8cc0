package io.baton.cli.stats;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.cli.farm.ProcessFarm;
import io.baton.cli.farm.WrkUntilStopped;
import io.baton.lab.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The live stats page (issue 14) in a real browser: Debian's headless Chromium opens the address
 * {@code baton ctl stats} prints, against a lab farm under wrk, and the test reads the rendered
 * DOM: both servers listed and up, the counters moving between two reads, a server killed with
 * SIGKILL shown as down within 2 s. Screenshots under load and after the kill are saved as test
 * artefacts (baton-cli/target/stats-page*.png).
 */
@Tag("lab")
class StatsPageLabTest {
  private static final String SERVERS =
      "[...document.querySelectorAll('#servers tr[data-server]')]"
          + ".map(r => r.dataset.server + ':' + r.dataset.state).join(',')";
  private static final String ACCEPTED =
      "Number(document.getElementById('acceptedTotal').textContent.replaceAll(',', ''))";

  @Test
  void theStatsPageShowsTheFarmLiveAndAKilledServerAsDown() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("stats", ProcessFarm.Options.DEFAULT).startAll()) {
      CommandResult stats =
          farm.cli("d1", "ctl", "--config", farm.config("d1").toString(), "stats");
      assertThat(stats.exitCode()).as(stats.stderr()).isZero();
      String url = stats.stdout().strip();
      assertThat(url).matches("http://127\\.0\\.0\\.1:9901/stats\\?token=[0-9a-f]+");
      // Until the page has been read under load (headless Chromium's start took most of a fixed
      // 15 s run on a loaded host).
      WrkUntilStopped wrk =
          WrkUntilStopped.start(
              farm.client,
              Duration.ofSeconds(90),
              ProcessFarm.url("/whoami.txt"),
              "-t1",
              "-c4",
              "-H",
              "Connection: close");
      farm.awaitMetric("d1", "baton_dispatcher_handoffs_total", v -> v > 50);
      Path dir = Files.createDirectories(farm.lab.dir().resolve("chromium"));
      try (HeadlessChromium page = HeadlessChromium.open(farm.hosts.get("d1"), dir, url)) {
        page.awaitTrue(
            "document.getElementById('status').textContent === 'live' && " + SERVERS + " !== ''",
            Duration.ofSeconds(20));
        assertThat(page.eval(SERVERS).asText()).isEqualTo("s1:up,s2:up");
        assertThat(page.eval("document.getElementById('node').textContent").asText())
            .isEqualTo("d1");
        long first = page.eval(ACCEPTED).asLong();
        page.awaitTrue(ACCEPTED + " > " + first, Duration.ofSeconds(5));
        long second = page.eval(ACCEPTED).asLong();
        assertThat(second).as("accepted connections between two reads").isGreaterThan(first);
        assertThat(page.eval("document.getElementById('handedOff').textContent").asText())
            .as("handoffs per second under load")
            .isNotEqualTo("0");
        assertThat(page.eval("document.querySelectorAll('#stages tr[data-stage]').length").asInt())
            .as("handoff stages listed")
            .isEqualTo(4);
        assertThat(
                page.eval(
                        "document.querySelector('#vips tr[data-vip=\"198.18.0.100:80\"]') !== null")
                    .asBoolean())
            .as("the VIP's row")
            .isTrue();
        Path shots = Files.createDirectories(Path.of("target"));
        page.screenshot(shots.resolve("stats-page.png"));

        assertThat(wrk.running()).as("wrk still loading when the page was read").isTrue();
        long killedAt = System.nanoTime();
        farm.kill9("s2");
        page.awaitTrue(
            "document.querySelector('#servers tr[data-server=\"s2\"]').dataset.state === 'down'",
            Duration.ofSeconds(2));
        long shownMs = (System.nanoTime() - killedAt) / 1_000_000;
        System.out.printf(
            "stats page: servers %s, accepted %d then %d; s2 shown down %d ms after SIGKILL%n",
            page.eval(SERVERS).asText(), first, second, shownMs);
        assertThat(page.eval(SERVERS).asText()).isEqualTo("s1:up,s2:down");
        page.screenshot(shots.resolve("stats-page-server-down.png"));
      }
      wrk.stop();
    }
  }
}
