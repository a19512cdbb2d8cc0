package io.baton.cli.farm;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.lab.CommandResult;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** What the farm lab tests check with: deadline-bounded polls, file digests, this JVM's sockets. */
final class FarmChecks {
  private FarmChecks() {}

  /** {@code baton ctl ARGS} against {@code server}'s admin endpoint; asserts it succeeded. */
  static CommandResult ctl(ProcessLab farm, String server, String... args) {
    List<String> all = new ArrayList<>(List.of("ctl", "--config", farm.config(server).toString()));
    all.addAll(List.of(args));
    CommandResult r = farm.cli(server, all.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r;
  }

  /**
   * {@code n} curl requests for /whoami.txt to {@code address}, each on a new connection; which
   * worker answered (the file's content), counted. Asserts every request succeeded.
   */
  static Map<String, Integer> whoAnswered(ProcessFarm farm, int n, String address) {
    List<String> cmd =
        new ArrayList<>(List.of("curl", "-sS", "-f", "-m", "30", "-H", "Connection: close"));
    for (int i = 0; i < n; i++) cmd.add("http://" + address + "/whoami.txt");
    CommandResult r = farm.client.exec(cmd, Duration.ofSeconds(40));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    Map<String, Integer> seen = new HashMap<>();
    for (String line : r.stdout().strip().split("\n")) seen.merge(line.strip(), 1, Integer::sum);
    return seen;
  }

  /** A condition that may throw while it is being checked. */
  interface Check {
    boolean test() throws Exception;
  }

  /** Polls {@code check} every 10 ms until it holds; fails after {@code limit}. */
  static void awaitTrue(Check check, Duration limit, String what) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!check.test()) {
      if (System.nanoTime() > deadline)
        throw new AssertionError("timed out after " + limit + " waiting for " + what);
      Thread.sleep(10); // polling interval of a deadline-bounded wait
    }
  }

  static String sha256(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) d.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(d.digest());
  }

  /** The sockets ({@code socket:[inode]}) this JVM holds open. */
  static Set<String> openSockets() throws Exception {
    Set<String> sockets = new HashSet<>();
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(p).toString();
          if (target.startsWith("socket:")) sockets.add(target);
        } catch (NoSuchFileException e) {
          // closed between the listing and the read
        }
      }
    }
    return sockets;
  }
}
