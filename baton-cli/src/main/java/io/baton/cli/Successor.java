package io.baton.cli;

import io.baton.linux.LinuxException;
import io.baton.linux.SdNotify;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dispatcher's planned reload started from inside ({@code baton ctl reload}, systemd's {@code
 * ExecReload}): this process starts its successor, the same command line with {@code --take-over},
 * which takes the listeners, the forwarding table and the fabric over and then asks this one to
 * stop. The successor shares this process's standard output and error (the journal under systemd)
 * and tells systemd its pid. Thread-safe; one successor per process.
 */
final class Successor {
  private static final Logger log = LoggerFactory.getLogger(Successor.class);
  private static final AtomicLong started = new AtomicLong();

  private Successor() {}

  /**
   * Starts the successor; returns its pid.
   *
   * @throws IllegalStateException when one is already under way or it cannot be started
   */
  static synchronized long start() {
    long earlier = started.get();
    if (earlier != 0) {
      throw new IllegalStateException(
          "a reload is already under way (successor pid " + earlier + ")");
    }
    List<String> line = commandLine();
    if (!line.contains("--take-over")) line.add("--take-over");
    Process p;
    try {
      p = new ProcessBuilder(line).inheritIO().start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the successor: " + e.getMessage(), e);
    }
    started.set(p.pid());
    log.info("planned reload: started successor pid {}: {}", p.pid(), String.join(" ", line));
    return p.pid();
  }

  /**
   * This process's command line from /proc/self/cmdline (ProcessHandle.Info gives none when it is
   * long, as a class path makes it).
   */
  private static List<String> commandLine() {
    byte[] raw;
    try {
      raw = java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/self/cmdline"));
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot read this process's command line: " + e.getMessage(), e);
    }
    List<String> line = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == 0) {
        line.add(new String(raw, start, i - start, java.nio.charset.StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    if (line.isEmpty()) throw new IllegalStateException("this process's command line is empty");
    return line;
  }

  /**
   * Tells systemd {@code state} when it runs this process with Type=notify; never fails the node.
   */
  static void notifySystemd(String state) {
    try {
      SdNotify.notify(state);
    } catch (LinuxException e) {
      log.warn("cannot tell systemd {}: {}", state.replace('\n', ' '), e.getMessage());
    }
  }
}
