package io.baton.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.Lab;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs the farm demo, as {@code ./baton demo --check} does, with short load phases: every check
 * passes, including that the client received no RST over the whole demo.
 */
@Tag("lab")
class FarmDemoLabTest {
  @Test
  void farmDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new FarmDemo(new PrintWriter(text, true), 1, 20).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("/static/ goes to s1")
        .contains("TLS with SNI a.example.test is terminated by s1's nginx")
        .contains("SHA-256")
        .contains("connections taken per server")
        .contains("ok   the client received 0 RST segments over the whole demo")
        .contains("demo: all checks passed")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void theTwoDispatcherDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new EcmpDemo(new PrintWriter(text, true), 2).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("ok   two next hops, one per dispatcher")
        .contains("the router withdrew its route")
        .contains("20 of 20 downloads arrived with the right SHA-256")
        .contains("Sync plane (JGroups on the sync network)")
        .contains("ok   the client received 0 RST segments over the whole demo")
        .contains("demo: all checks passed")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void theMigrationDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new MigrateDemo(new PrintWriter(text, true), 3).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("s1 drained:")
        .contains("the download arrived whole")
        .contains("all on one connection (1 connects)")
        .contains("ok   the client received 0 RST segments over the whole demo")
        .contains("demo: all checks passed")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void theGatewayDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new GatewayDemo(new PrintWriter(text, true)).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("ok   gwa terminated no connection: the kernel routed it untouched")
        .contains("ok   registered")
        .contains("ok   all 33554432 bytes arrived, byte-exact")
        .contains("ok   gwa terminated no connection to port 8080")
        .contains("demo: all checks passed")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void theWorkersDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new WorkersDemo(new PrintWriter(text, true), 4).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("ok   no request failed but those w2 was serving when it died")
        .contains("ok   w2 is down")
        .contains("ok   w3 took no new connection after its drain")
        .contains("demo: all checks passed")
        .doesNotContain("    FAIL ");
    assertThat(Lab.leftovers()).isEmpty();
  }

  @Test
  void theRoutedDemoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new RoutedDemo(new PrintWriter(text, true), 2).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("ok   100 MiB GET arrived with the right SHA-256")
        .contains("ok   every wrapped packet was unwrapped by a server")
        .contains("ok   both DNS servers answered, every answer from the VIP")
        .contains("ok   100 MiB GET over IPv6 arrived with the right SHA-256")
        .contains("ok   the client received 0 RST segments over the whole demo")
        .contains("demo: all checks passed")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }
}
