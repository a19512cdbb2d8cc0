package io.baton.cli.demo;

import java.io.PrintWriter;

/**
 * A demo's output and verdict: lines as they happen, and checks printed {@code ok} or {@code FAIL}
 * that decide whether the demo passed. Confined to the demo's thread.
 */
final class DemoChecks {
  private final PrintWriter out;
  private boolean failed;

  DemoChecks(PrintWriter out) {
    this.out = out;
  }

  void say(String line) {
    out.println(line);
    out.flush();
  }

  void check(boolean ok, String what) {
    say("    " + (ok ? "ok   " : "FAIL ") + what);
    if (!ok) failed = true;
  }

  boolean failed() {
    return failed;
  }
}
