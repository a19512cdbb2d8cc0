package io.baton.lab;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The labs of this JVM that are still open, and the shutdown hook that closes them when the JVM
 * ends without closing them itself (Ctrl-C, SIGTERM, {@code System.exit}). A hard kill (SIGKILL)
 * runs no hook; {@link Lab#sweepStale()} cleans up after that.
 *
 * <p>Thread-safe.
 */
final class OpenLabs {
  private static final Set<Lab> OPEN = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(Thread.ofPlatform().name("lab-teardown").unstarted(OpenLabs::closeAll));
  }

  private OpenLabs() {}

  static void register(Lab lab) {
    OPEN.add(lab);
  }

  static void unregister(Lab lab) {
    OPEN.remove(lab);
  }

  private static void closeAll() {
    for (Lab lab : Set.copyOf(OPEN)) {
      try {
        lab.close();
      } catch (RuntimeException e) {
        // Logging may already be shut down; stderr is the last reliable channel.
        System.err.println(
            "baton-lab: teardown of " + lab + " at JVM exit failed: " + e.getMessage());
      }
    }
  }
}
