package io.baton.lab;

import io.baton.linux.Netns;
import java.util.concurrent.TimeUnit;

/**
 * A JVM that builds a lab and never closes it, for {@link ShutdownTeardownTest}: it prints the
 * lab's namespaces on one line and waits to be terminated, or exits by itself after a minute.
 */
public final class LabHolder {
  /** Starts the stdout line that names the namespaces (logging shares stdout). */
  static final String MARKER = "NAMESPACES ";

  private LabHolder() {}

  public static void main(String[] args) throws Exception {
    Lab lab = Lab.create("holder");
    Segment front = lab.segment("front");
    Host a = lab.host("a");
    a.attach(front, "198.18.0.1/24");
    a.call(Netns::current);
    a.start(java.util.List.of("sleep", "600"));
    System.out.println(MARKER + a.nsName() + " " + lab.switchNamespace());
    System.out.flush();
    TimeUnit.SECONDS.sleep(60); // a bounded lifetime, not synchronisation: the test kills us first
  }
}
