package io.baton.announce;

import io.baton.config.BgpConfig;
import java.io.IOException;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A BIRD 2 daemon that announces this dispatcher's VIPs by BGP. Baton writes its configuration (a
 * static protocol with one blackhole /32 per VIP address, never installed in the kernel, and one
 * BGP session per neighbor that exports exactly those routes and imports nothing), checks it with
 * {@code bird -p}, and runs {@code bird -f} under {@code setpriv --pdeathsig TERM}: if this process
 * dies, even by SIGKILL, the kernel sends BIRD SIGTERM and BIRD closes its sessions with a Cease,
 * so the routers withdraw the VIPs at once instead of after the hold time.
 *
 * <p>The parent-death signal follows the thread that started BIRD: {@link #start} must be called on
 * a thread that lives as long as the announcement (the node's main thread).
 */
public final class BirdBgp implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BirdBgp.class);
  private static final List<Path> BIRD =
      List.of(Path.of("/usr/sbin/bird"), Path.of("/usr/bin/bird"));
  private static final List<Path> BIRDC =
      List.of(Path.of("/usr/sbin/birdc"), Path.of("/usr/bin/birdc"));

  /** How long the routers keep a taken-over dispatcher's routes waiting for its new BIRD. */
  public static final java.time.Duration GRACEFUL_RESTART_TIME = java.time.Duration.ofSeconds(30);

  /** In the node's BGP directory: the pid of a process taking over ({@code --take-over}). */
  private static final String TAKE_OVER_MARK = "taken-over-by";

  /**
   * A dispatcher whose heartbeat is older than this has its VIPs withdrawn until it beats again.
   */
  public static final java.time.Duration WEDGED_AFTER = java.time.Duration.ofSeconds(2);

  /**
   * Watches the heartbeat file (epoch milliseconds, written by the dispatcher): when it is older
   * than the limit, the static protocol that holds the VIP routes is disabled (BGP withdraws them);
   * when it is fresh again, enabled. Runs as BIRD's sibling, under the same parent-death signal, so
   * a wedged or stopped JVM (SIGSTOP, a stuck event loop, a long pause) stops attracting new
   * clients while its kernel keeps forwarding the established ones.
   */
  private static final String WATCHDOG =
      """
      hb="$1"; sock="$2"; limit="$3"; birdc="$4"; up=1
      while sleep 0.25; do
        now=$(date +%s%3N); last=$(cat "$hb" 2>/dev/null || echo 0)
        if [ $((now - last)) -gt "$limit" ]; then
          if [ $up = 1 ] && "$birdc" -s "$sock" disable baton_vips >/dev/null 2>&1; then
            up=0; echo "$(date -Is) heartbeat $((now - last)) ms old: VIPs withdrawn"
          fi
        elif [ $up = 0 ] && "$birdc" -s "$sock" enable baton_vips >/dev/null 2>&1; then
          up=1; echo "$(date -Is) heartbeat fresh again: VIPs announced"
        fi
      done
      """;

  private final Process bird;
  private final Process watchdog;
  private final Path dir;
  private final Path socket;
  private final Path birdc;
  private final Path heartbeat;

  private BirdBgp(
      Process bird, Process watchdog, Path dir, Path socket, Path birdc, Path heartbeat) {
    this.bird = bird;
    this.watchdog = watchdog;
    this.dir = dir;
    this.socket = socket;
    this.birdc = birdc;
    this.heartbeat = heartbeat;
  }

  /**
   * The dispatcher is alive and its event loops turn: call every few hundred milliseconds, from a
   * task that the event loops themselves ran recently (see the node runner). Missing beats for
   * {@link #WEDGED_AFTER} withdraw the VIPs until the beats return.
   */
  public void beat() throws IOException {
    Path tmp = heartbeat.resolveSibling("heartbeat.tmp");
    Files.writeString(tmp, Long.toString(System.currentTimeMillis()));
    Files.move(
        tmp,
        heartbeat,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The configuration BIRD gets: a pure function of its inputs, for tests and for {@code bird -p}.
   */
  static String configuration(
      BgpConfig c, Inet4Address local, Collection<Inet4Address> vips, Path logFile) {
    StringBuilder b = new StringBuilder();
    b.append("# Written by Baton; changes are lost at its next start.\n");
    b.append("router id ").append(c.routerId().getHostAddress()).append(";\n");
    b.append("log \"").append(logFile).append("\" all;\n");
    b.append("protocol device {}\n");
    b.append("protocol static baton_vips {\n  ipv4;\n");
    for (String vip : new TreeSet<>(vips.stream().map(Inet4Address::getHostAddress).toList())) {
      b.append("  route ").append(vip).append("/32 blackhole;\n");
    }
    b.append("}\n");
    long hold = c.holdTime().toSeconds();
    for (int i = 0; i < c.neighbors().size(); i++) {
      BgpConfig.Neighbor n = c.neighbors().get(i);
      b.append("protocol bgp baton_up")
          .append(i)
          .append(" {\n")
          .append("  local ")
          .append(local.getHostAddress())
          .append(" as ")
          .append(c.localAs())
          .append(";\n")
          .append("  neighbor ")
          .append(n.address().getHostAddress())
          .append(" as ")
          .append(n.as())
          .append(";\n")
          .append("  hold time ")
          .append(hold)
          .append(";\n")
          .append("  keepalive time ")
          .append(Math.max(1, hold / 3))
          .append(";\n")
          .append("  connect retry time 1;\n")
          // A planned take-over kills BIRD without a Cease: the routers, graceful-restart helpers
          // (BIRD's default), keep the routes until the new process's BIRD re-announces them.
          // Any other stop still ends with a Cease, which withdraws at once (BIRD 2.0 has no
          // RFC 8538).
          .append("  graceful restart on;\n")
          .append("  graceful restart time ")
          .append(GRACEFUL_RESTART_TIME.toSeconds())
          .append(";\n")
          .append("  error wait time 1, 5;\n")
          .append("  ipv4 { import none; export where proto = \"baton_vips\"; };\n")
          .append("}\n");
    }
    return b.toString();
  }

  /**
   * Writes the configuration under {@code runDir}, checks it and starts BIRD. Fails with a message
   * that says what to install or fix.
   */
  public static BirdBgp start(
      String node, BgpConfig c, Inet4Address local, Collection<Inet4Address> vips, Path runDir)
      throws IOException, InterruptedException {
    Path birdBinary = find(BIRD, "bird");
    Path birdc = find(BIRDC, "birdc");
    Path dir = directory(node, runDir);
    Files.createDirectories(dir);
    // Taking over: the old BIRD went without a Cease; start in graceful-restart recovery, so the
    // routers keep the stale routes until this one has sent all of its own (End-of-RIB).
    boolean recovering = Files.deleteIfExists(dir.resolve(TAKE_OVER_MARK));
    Files.deleteIfExists(dir.resolve("bird.ctl"));
    Path conf = dir.resolve("bird.conf");
    Path socket = dir.resolve("bird.ctl");
    Path logFile = dir.resolve("bird.log");
    Files.writeString(conf, configuration(c, local, vips, logFile));
    Process check =
        new ProcessBuilder(birdBinary.toString(), "-p", "-c", conf.toString())
            .redirectErrorStream(true)
            .start();
    String checkOut = new String(check.getInputStream().readAllBytes()).strip();
    if (!check.waitFor(10, TimeUnit.SECONDS) || check.exitValue() != 0) {
      throw new IOException(
          "BIRD refused the configuration Baton wrote (" + conf + "): " + checkOut);
    }
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "setpriv",
                "--pdeathsig",
                "TERM",
                birdBinary.toString(),
                "-f",
                "-c",
                conf.toString(),
                "-s",
                socket.toString()));
    if (recovering) cmd.add("-R");
    Process bird =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("bird.out").toFile())
            .start();
    Path heartbeat = dir.resolve("heartbeat");
    Files.writeString(heartbeat, Long.toString(System.currentTimeMillis()));
    Process watchdog =
        new ProcessBuilder(
                "setpriv",
                "--pdeathsig",
                "TERM",
                "bash",
                "-c",
                WATCHDOG,
                "baton-bgp-watchdog",
                heartbeat.toString(),
                socket.toString(),
                Long.toString(WEDGED_AFTER.toMillis()),
                birdc.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("watchdog.log").toFile())
            .start();
    BirdBgp b = new BirdBgp(bird, watchdog, dir, socket, birdc, heartbeat);
    log.info(
        "announcing {} by BGP (AS {}) to {} with BIRD pid {}{} (config and log in {})",
        vips.stream().map(Inet4Address::getHostAddress).distinct().sorted().toList(),
        c.localAs(),
        c.neighbors().stream().map(n -> n.address().getHostAddress() + " AS " + n.as()).toList(),
        bird.pid(),
        recovering ? ", in graceful-restart recovery after a take-over" : "",
        dir);
    return b;
  }

  /**
   * One directory per node and network namespace, reused by the next start (as the forwarding
   * table's lock file is).
   */
  private static Path directory(String node, Path runDir) throws IOException {
    try {
      return runDir.resolve(
          "bgp-" + node + "-net-" + Long.toUnsignedString(io.baton.linux.NetnsIdentity.current()));
    } catch (io.baton.linux.LinuxException e) {
      throw new IOException("cannot identify this network namespace: " + e.getMessage(), e);
    }
  }

  /**
   * Marks a planned take-over of {@code node}'s announcement by this process, before the running
   * dispatcher is asked to stop: its {@link #close} then hands over instead of withdrawing.
   */
  public static void markTakeOver(String node, Path runDir) throws IOException {
    Path dir = directory(node, runDir);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(TAKE_OVER_MARK), Long.toString(ProcessHandle.current().pid()));
  }

  /** Whether another live process marked a take-over of this announcement. */
  private boolean takenOver() {
    try {
      long pid = Long.parseLong(Files.readString(dir.resolve(TAKE_OVER_MARK)).strip());
      return pid != ProcessHandle.current().pid()
          && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }

  private static Path find(List<Path> candidates, String name) throws IOException {
    for (Path p : candidates) if (Files.isExecutable(p)) return p;
    throw new IOException(
        "announce.bgp needs BIRD 2 ("
            + name
            + " not found in /usr/sbin or /usr/bin;"
            + " install the Debian package bird2)");
  }

  /** BGP sessions in state Established now, by {@code birdc show protocols}. */
  public int establishedSessions() throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(birdc.toString(), "-s", socket.toString(), "show", "protocols")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor(5, TimeUnit.SECONDS);
    return (int)
        out.lines().filter(l -> l.startsWith("baton_up") && l.contains("Established")).count();
  }

  public boolean isAlive() {
    return bird.isAlive();
  }

  /**
   * Withdraws the VIPs: BIRD ends its sessions with a Cease and exits. Returns once it has
   * (bounded), so that a stopping dispatcher closes its listeners only after the withdrawal.
   *
   * <p>Unless a live process marked a take-over ({@link #markTakeOver}): then BIRD is killed
   * (SIGKILL, no Cease), its sessions simply end, and the routers keep the routes as stale for
   * {@link #GRACEFUL_RESTART_TIME} while the new process starts its BIRD.
   */
  @Override
  public void close() {
    watchdog.destroy();
    if (takenOver()) {
      bird.destroyForcibly();
      try {
        bird.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      log.info(
          "handed the VIPs' announcement over to the process taking over (BIRD killed without a Cease: the"
              + " routers keep the routes up to {} s for the new BIRD)",
          GRACEFUL_RESTART_TIME.toSeconds());
      return;
    }
    bird.destroy();
    try {
      if (!bird.waitFor(5, TimeUnit.SECONDS)) {
        log.warn("BIRD did not stop within 5 s of SIGTERM; killing it");
        bird.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.info("withdrew the VIPs (BIRD stopped; its files stay in {})", dir);
  }
}
