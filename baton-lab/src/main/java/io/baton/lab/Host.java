package io.baton.lab;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One simulated machine of a {@link Lab}: a network namespace with its loopback up and the kernel's
 * default settings (IPv6 on: its link-local traffic crosses the interfaces as on a real host, so
 * byte counts include a little neighbour discovery). Commands run in it through {@code ip netns
 * exec}; Java code runs in it on a dedicated thread ({@link #call}, {@link #executor}) whose
 * sockets belong to the namespace.
 *
 * <p>Thread-safe: configuration methods are guarded by {@code this}; the lab closes a host.
 */
public final class Host {
  private static final Logger log = LoggerFactory.getLogger(Host.class);
  private static final Duration EXEC_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(10);
  private static final long POLL_PAUSE_NS = TimeUnit.MILLISECONDS.toNanos(5);
  private static final long KILL_WAIT_MS = 5_000;
  private static final Pattern SYSCTL_KEY = Pattern.compile("[a-z0-9_]+(?:[./][a-zA-Z0-9_-]+)+");
  private static final List<String> STAT_NAMES =
      List.of("rx_bytes", "rx_packets", "rx_dropped", "tx_bytes", "tx_packets", "tx_dropped");

  private final Lab lab;
  private final String name;
  private final String namespace;

  // guarded by this
  private final Set<String> attachedSegments = new HashSet<>();
  private final Map<Process, String> processes = new IdentityHashMap<>();
  private int processCount;
  private NamespaceThread thread;
  private boolean closed;

  Host(Lab lab, String name, String namespace) {
    this.lab = lab;
    this.name = name;
    this.namespace = namespace;
  }

  /** The host's short name, as given to {@link Lab#host}. */
  public String name() {
    return name;
  }

  /** The network namespace's name, e.g. {@code bt4242x1-client}. */
  public String nsName() {
    return namespace;
  }

  /**
   * Joins {@code segment} with a veth pair: an interface named after the segment in this host,
   * holding {@code cidr}, and its peer enslaved to the segment's bridge. Returns the interface name
   * once the interface is up with its address and the bridge forwards on the peer.
   */
  public synchronized String attach(Segment segment, String cidr) {
    Cidr address = Cidr.parse(cidr);
    checkOpen();
    if (segment.lab() != lab)
      throw new IllegalArgumentException(segment + " belongs to another lab");
    String dev = segment.name();
    if (!attachedSegments.add(dev)) {
      throw new IllegalArgumentException("host " + name + " is already attached to segment " + dev);
    }
    String sw = lab.switchNamespace();
    String peer = lab.nextPeerName();
    CommandRunner.runOrThrow(
        List.of(
            "ip", "-n", sw, "link", "add", "name", peer, "type", "veth", "peer", "name", dev,
            "netns", namespace));
    CommandRunner.runOrThrow(
        List.of("ip", "-n", sw, "link", "set", peer, "master", segment.bridgeName(), "up"));
    CommandRunner.runOrThrow(address.addCommand(namespace, dev));
    CommandRunner.runOrThrow(List.of("ip", "-n", namespace, "link", "set", dev, "up"));
    awaitOutput(
        List.of("ip", "-n", namespace, "-j", "addr", "show", "dev", dev),
        List.of("\"operstate\":\"UP\"", "\"local\":\"" + address.hostText() + "\""));
    awaitOutput(
        List.of("ip", "-n", sw, "-d", "-j", "link", "show", "dev", peer),
        List.of("\"state\":\"forwarding\""));
    log.debug("{}: {} {} on {} (peer {})", lab, name, address, segment.bridgeName(), peer);
    return dev;
  }

  /** The interfaces {@link #attach} made (one per segment, named after it), sorted. */
  public synchronized List<String> interfaces() {
    return attachedSegments.stream().sorted().toList();
  }

  /**
   * Adds {@code cidr} to interface {@code dev}, e.g. a VIP on {@code lo} as a /32 or /128. An IPv6
   * address is added {@code nodad}, usable at once (see {@link Cidr}).
   */
  public synchronized void addAddress(String dev, String cidr) {
    Cidr address = Cidr.parse(cidr);
    LabNames.checkInterfaceName(dev);
    checkOpen();
    CommandRunner.runOrThrow(address.addCommand(namespace, dev));
  }

  /**
   * Routes {@code destinationCidr} through gateway {@code via}; both must be lab addresses of one
   * family (198.18.0.0/15 or 2001:2::/48).
   */
  public synchronized void addRoute(String destinationCidr, String via) {
    boolean v6 = LabAddress6.looksLikeIpv6(destinationCidr);
    if (v6 != LabAddress6.looksLikeIpv6(via)) {
      throw new IllegalArgumentException(
          "route " + destinationCidr + " via " + via + " mixes IPv4 and IPv6");
    }
    String destinationText =
        v6
            ? LabAddress6.parseCidr(destinationCidr).network().cidrText()
            : LabAddress.parseCidr(destinationCidr).network().cidrText();
    String gatewayText =
        v6 ? LabAddress6.parseHost(via).hostText() : LabAddress.parseHost(via).hostText();
    checkOpen();
    CommandRunner.runOrThrow(
        List.of("ip", "-n", namespace, "route", "add", destinationText, "via", gatewayText));
  }

  /** Writes one sysctl inside this namespace, e.g. {@code net.ipv4.ip_forward = 1}. */
  public synchronized void sysctl(String key, String value) {
    if (key == null || !SYSCTL_KEY.matcher(key).matches()) {
      throw new IllegalArgumentException(
          "'" + key + "' is not a sysctl key like net.ipv4.ip_forward");
    }
    checkOpen();
    CommandRunner.runOrThrow(
        List.of("ip", "netns", "exec", namespace, "sysctl", "-q", "-w", key + "=" + value));
  }

  /** Runs {@code command} inside this namespace to completion (at most 60 s). */
  public CommandResult exec(String... command) {
    return exec(List.of(command), EXEC_TIMEOUT);
  }

  /** Runs {@code command} inside this namespace; kills it if it outlives {@code timeout}. */
  public CommandResult exec(List<String> command, Duration timeout) {
    checkOpen();
    return CommandRunner.run(inNamespace(command), timeout);
  }

  /** Like {@link #exec(String...)} but throws {@link CommandFailedException} on a non-zero exit. */
  public CommandResult execOrThrow(String... command) {
    return exec(command).orThrow();
  }

  /**
   * Starts a long-running {@code command} inside this namespace. Its output goes to files in {@link
   * Lab#dir()} ({@link #stdoutOf}, {@link #stderrOf}); the lab kills it on close.
   */
  public synchronized Process start(List<String> command) {
    if (command.isEmpty()) throw new IllegalArgumentException("empty command");
    checkOpen();
    String program =
        Path.of(command.getFirst()).getFileName().toString().replaceAll("[^A-Za-z0-9_.-]", "_");
    String stem = name + "-" + (++processCount) + "-" + program;
    Path dir = lab.dir();
    try {
      Process process =
          new ProcessBuilder(inNamespace(command))
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectOutput(dir.resolve(stem + ".out").toFile())
              .redirectError(dir.resolve(stem + ".err").toFile())
              .start();
      processes.put(process, stem);
      log.debug("{}: {} started pid {}: {}", lab, name, process.pid(), command);
      return process;
    } catch (IOException e) {
      throw new LabException("cannot start `" + String.join(" ", command) + "` in host " + name, e);
    }
  }

  /** The file that receives the standard output of {@code process}, started by {@link #start}. */
  public synchronized Path stdoutOf(Process process) {
    return lab.dir().resolve(stemOf(process) + ".out");
  }

  /** The file that receives the standard error of {@code process}, started by {@link #start}. */
  public synchronized Path stderrOf(Process process) {
    return lab.dir().resolve(stemOf(process) + ".err");
  }

  /**
   * Runs {@code task} on this host's thread, inside its namespace, and returns its result; the
   * task's exception is rethrown as is. Tasks run one at a time, in submission order.
   */
  public <T> T call(Callable<T> task) throws Exception {
    return thread().call(task);
  }

  /**
   * The executor behind {@link #call}: one platform thread inside this namespace, started on first
   * use. The lab shuts it down; callers should not.
   */
  public ExecutorService executor() {
    return thread().executor();
  }

  /** The kernel's counters of interface {@code dev} in this namespace, read now. */
  public InterfaceStats interfaceStats(String dev) {
    LabNames.checkInterfaceName(dev);
    List<String> command = new ArrayList<>(List.of("cat"));
    for (String stat : STAT_NAMES) command.add("/sys/class/net/" + dev + "/statistics/" + stat);
    String[] lines =
        exec(command, CommandRunner.SETUP_TIMEOUT).orThrow().stdout().strip().split("\n");
    if (lines.length != STAT_NAMES.size()) {
      throw new LabException(
          "unexpected statistics of " + dev + " in " + namespace + ": " + List.of(lines));
    }
    long[] v = new long[lines.length];
    for (int i = 0; i < lines.length; i++) v[i] = Long.parseLong(lines[i].strip());
    return new InterfaceStats(dev, v[0], v[1], v[2], v[3], v[4], v[5]);
  }

  /**
   * A TCP extension counter of this namespace's stack ({@code TcpExt:} in /proc/net/netstat, as
   * {@code nstat} names it without the prefix: "TCPSynRetrans"), read now.
   */
  public long tcpExtCounter(String counter) {
    return protocolCounter("/proc/net/netstat", "TcpExt", counter);
  }

  /**
   * A counter of this host's protocol statistics in {@code /proc/net/snmp} (for example {@code
   * Tcp}, {@code OutSegs}: every TCP segment this host's stack sent).
   */
  public long snmpCounter(String group, String counter) {
    return protocolCounter("/proc/net/snmp", group, counter);
  }

  /** Both files list a group as two lines, "Group: names..." then "Group: values...". */
  private long protocolCounter(String file, String group, String counter) {
    String prefix = group + ":";
    String[] lines =
        exec(List.of("cat", file), CommandRunner.SETUP_TIMEOUT).orThrow().stdout().split("\n");
    for (int i = 0; i + 1 < lines.length; i++) {
      if (!lines[i].startsWith(prefix) || !lines[i + 1].startsWith(prefix)) continue;
      String[] names = lines[i].trim().split("\\s+");
      String[] values = lines[i + 1].trim().split("\\s+");
      for (int k = 1; k < names.length && k < values.length; k++) {
        if (names[k].equals(counter)) return Long.parseLong(values[k]);
      }
    }
    throw new LabException("no " + group + " counter " + counter + " in " + namespace);
  }

  @Override
  public String toString() {
    return "host " + name + " (" + namespace + ")";
  }

  /** Kills the processes started here and stops the thread; the lab then deletes the namespace. */
  void stop() {
    NamespaceThread t;
    List<Process> started;
    synchronized (this) {
      closed = true;
      t = thread;
      thread = null;
      started = new ArrayList<>(processes.keySet());
    }
    // Each process before its children: a parent that respawns children (nginx's master) would
    // otherwise fork a new one after its child was killed, and that one would outlive the lab.
    List<ProcessHandle> children = new ArrayList<>();
    for (Process p : started) {
      children.addAll(p.descendants().toList());
      p.destroyForcibly();
    }
    for (Process p : started) {
      try {
        p.waitFor(KILL_WAIT_MS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    children.forEach(ProcessHandle::destroyForcibly);
    for (Process p : started) {
      try {
        if (!p.waitFor(KILL_WAIT_MS, TimeUnit.MILLISECONDS)) {
          log.warn("{}: pid {} in {} survived SIGKILL for {} ms", lab, p.pid(), name, KILL_WAIT_MS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (t != null) t.close();
  }

  private synchronized NamespaceThread thread() {
    checkOpen();
    if (thread == null) thread = NamespaceThread.start(namespace);
    return thread;
  }

  private String stemOf(Process process) {
    String stem = processes.get(process);
    if (stem == null)
      throw new IllegalArgumentException(
          "process " + process.pid() + " was not started by " + this);
    return stem;
  }

  private List<String> inNamespace(List<String> command) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    full.addAll(command);
    return full;
  }

  private void checkOpen() {
    if (closed || lab.isClosed())
      throw new IllegalStateException(this + " belongs to a closed lab");
  }

  /** Polls {@code command} until its output holds every one of {@code needles}, or times out. */
  private static void awaitOutput(List<String> command, List<String> needles) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    CommandResult last;
    do {
      last = CommandRunner.runOrThrow(command);
      String out = last.stdout();
      if (needles.stream().allMatch(out::contains)) return;
      LockSupport.parkNanos(POLL_PAUSE_NS);
    } while (System.nanoTime() - deadline < 0);
    throw new LabException(
        "`"
            + String.join(" ", command)
            + "` still lacks "
            + needles
            + " after "
            + READY_TIMEOUT
            + ": "
            + last.stdout());
  }

  /**
   * A lab address of either family as {@code ip addr add} wants it. IPv6 addresses are added with
   * {@code nodad}: duplicate address detection would keep a new address "tentative" (unusable as a
   * source, a bind to it failing with EADDRNOTAVAIL) for about a second after the link comes up,
   * and every address of a lab is unique by construction, so there is nothing to detect.
   */
  record Cidr(String cidrText, String hostText, boolean ipv6) {
    static Cidr parse(String text) {
      if (LabAddress6.looksLikeIpv6(text)) {
        LabAddress6 a = LabAddress6.parseCidr(text);
        return new Cidr(a.cidrText(), a.hostText(), true);
      }
      LabAddress a = LabAddress.parseCidr(text);
      return new Cidr(a.cidrText(), a.hostText(), false);
    }

    List<String> addCommand(String namespace, String dev) {
      List<String> command =
          new ArrayList<>(List.of("ip", "-n", namespace, "addr", "add", cidrText, "dev", dev));
      if (ipv6) command.add("nodad");
      return command;
    }
  }
}
