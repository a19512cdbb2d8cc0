package io.baton.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.Lab;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Runs the whole demo, as {@code ./baton demo --check} does, against real namespaces. */
@Tag("lab")
class TransplantDemoLabTest {
  @Test
  void demoPassesEveryCheckAndLeavesNothingBehind() throws Exception {
    StringWriter text = new StringWriter();
    boolean passed = new TransplantDemo(new PrintWriter(text, true), 100).run(false);
    assertThat(passed).as(text.toString()).isTrue();
    assertThat(text.toString())
        .contains("curl exited 0")
        .contains("100/100 clients got b's answer")
        .contains("RST segments seen by the client: received 0, sent 0")
        .doesNotContain("FAIL");
    assertThat(Lab.leftovers()).isEmpty();
  }
}
