package io.baton.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.Netns;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("lab")
class ShutdownTeardownTest {
  @Test
  void sigtermTearsDownLabsStillOpen() throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process holder =
        new ProcessBuilder(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                LabHolder.class.getName())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      do {
        line = out.readLine(); // bounded: the holder exits by itself within a minute
      } while (line != null && !line.startsWith(LabHolder.MARKER));
      assertThat(line).as("holder's namespaces").isNotNull();
      List<String> namespaces =
          List.of(line.substring(LabHolder.MARKER.length()).strip().split(" "));
      for (String ns : namespaces) assertThat(Netns.pathOf(ns)).exists();

      holder.destroy(); // SIGTERM
      assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
      for (String ns : namespaces) assertThat(Netns.pathOf(ns)).doesNotExist();
      assertThat(Lab.leftovers()).isEmpty();
    } finally {
      holder.destroyForcibly();
      holder.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
