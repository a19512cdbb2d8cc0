package io.baton.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several simulated hosts on one machine: network namespaces joined by veth pairs to bridges that
 * live in a per-lab "switch" namespace, so the root namespace is never touched. Addresses come only
 * from 198.18.0.0/15 (see {@link LabAddress}).
 *
 * <p>Names are unique per run ({@code bt<pid>x<lab>-<host>}, see {@link LabNames}) so runs can
 * overlap. Teardown always runs: {@link #close()} deletes every namespace the lab made (which
 * removes its veths and bridges), a JVM shutdown hook closes labs still open, and {@link
 * #sweepStale()} deletes what dead runs left behind.
 *
 * <pre>{@code
 * try (Lab lab = Lab.create("transplant")) {
 *   Segment front = lab.segment("front");
 *   Host client = lab.host("client");
 *   client.attach(front, "198.18.0.10/24");
 *   ...
 * }
 * }</pre>
 *
 * <p>Thread-safe: building and closing are guarded by {@code this}.
 */
public final class Lab implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Lab.class);
  private static final AtomicLong LAB_NUMBERS = new AtomicLong();
  private static final AtomicLong PEER_NUMBERS = new AtomicLong();
  private static final Pattern PURPOSE = Pattern.compile("[A-Za-z0-9_-]{1,40}");

  /** Set to {@code true} to keep {@link #dir()} (process output) after close, for debugging. */
  public static final String KEEP_DIR_PROPERTY = "baton.lab.keepDir";

  private final String purpose;
  private final long number;
  private final String switchNamespace;
  private final Path dir;

  // guarded by this
  private final Map<String, Host> hosts = new LinkedHashMap<>();
  private final Map<String, Segment> segments = new LinkedHashMap<>();
  private final List<String> namespaces = new ArrayList<>();
  private volatile boolean closed;

  private Lab(String purpose, long number, Path dir) {
    this.purpose = purpose;
    this.number = number;
    this.switchNamespace =
        LabNames.namespace(ProcessHandle.current().pid(), number, LabNames.SWITCH_MEMBER);
    this.dir = dir;
  }

  /**
   * A new, empty lab: its switch namespace and a temporary directory. {@code purpose} (letters,
   * digits, '-', '_') only names the directory and log lines. Sweeps stale namespaces first.
   */
  public static Lab create(String purpose) {
    if (purpose == null || !PURPOSE.matcher(purpose).matches()) {
      throw new IllegalArgumentException("lab purpose '" + purpose + "' must match " + PURPOSE);
    }
    sweepStale();
    Path dir;
    try {
      dir = Files.createTempDirectory(LabNames.dirPrefix(ProcessHandle.current().pid(), purpose));
    } catch (IOException e) {
      throw new LabException("cannot create a temporary directory for lab " + purpose, e);
    }
    Lab lab = new Lab(purpose, LAB_NUMBERS.incrementAndGet(), dir);
    OpenLabs.register(lab);
    try {
      synchronized (lab) {
        lab.addNamespace(lab.switchNamespace);
      }
    } catch (RuntimeException e) {
      lab.closeAfterFailure(e);
      throw e;
    }
    log.debug("{} created in {}", lab, dir);
    return lab;
  }

  /** A new segment: a bridge that forwards at once (no STP, no forwarding delay). */
  public synchronized Segment segment(String name) {
    LabNames.checkSegmentName(name);
    checkOpen();
    if (segments.containsKey(name))
      throw new IllegalArgumentException("segment " + name + " exists in " + this);
    Segment segment = new Segment(this, name);
    String bridge = segment.bridgeName();
    CommandRunner.runOrThrow(
        List.of(
            "ip",
            "-n",
            switchNamespace,
            "link",
            "add",
            bridge,
            "type",
            "bridge",
            "forward_delay",
            "0",
            "stp_state",
            "0"));
    CommandRunner.runOrThrow(List.of("ip", "-n", switchNamespace, "link", "set", bridge, "up"));
    segments.put(name, segment);
    return segment;
  }

  /**
   * A new host: a namespace with {@code lo} up and the kernel's default settings otherwise (IPv6
   * on, as on every stock host: the lab must not hide what real hosts do).
   */
  public synchronized Host host(String name) {
    LabNames.checkHostName(name);
    checkOpen();
    if (hosts.containsKey(name))
      throw new IllegalArgumentException("host " + name + " exists in " + this);
    String namespace = LabNames.namespace(ProcessHandle.current().pid(), number, name);
    addNamespace(namespace);
    CommandRunner.runOrThrow(List.of("ip", "-n", namespace, "link", "set", "lo", "up"));
    Host host = new Host(this, name, namespace);
    hosts.put(name, host);
    return host;
  }

  /** Every host made so far, in the order they were made. */
  public synchronized List<Host> hosts() {
    return List.copyOf(hosts.values());
  }

  /** The lab's temporary directory; output of {@link Host#start} processes goes here. */
  public Path dir() {
    return dir;
  }

  public String purpose() {
    return purpose;
  }

  /** The namespace that holds the lab's bridges. */
  public String switchNamespace() {
    return switchNamespace;
  }

  public boolean isClosed() {
    return closed;
  }

  /**
   * Kills processes the hosts started, stops their threads and deletes every namespace the lab
   * made. Tries every step even after one fails, then throws the first failure with the others
   * suppressed. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    List<RuntimeException> failures = new ArrayList<>();
    for (Host host : hosts.values()) {
      try {
        host.stop();
      } catch (RuntimeException e) {
        failures.add(e);
      }
    }
    // Hosts first: deleting a host namespace removes its veth ends, and with them the peers.
    for (String namespace : namespaces.reversed()) {
      try {
        deleteNamespace(namespace);
      } catch (RuntimeException e) {
        failures.add(e);
      }
    }
    OpenLabs.unregister(this);
    if (!Boolean.getBoolean(KEEP_DIR_PROPERTY)) deleteTree(dir);
    log.debug("{} closed", this);
    if (!failures.isEmpty()) {
      LabException e =
          new LabException("tearing down " + this + " failed: " + failures.getFirst().getMessage());
      failures.forEach(e::addSuppressed);
      throw e;
    }
  }

  /**
   * Deletes the namespaces (and temporary directories) that runs whose JVM is gone left behind, and
   * returns the namespaces' names. Namespaces of live runs, including this one, stay.
   */
  public static List<String> sweepStale() {
    List<String> swept = new ArrayList<>();
    for (String namespace : LabNames.existing()) {
      OptionalLong pid = LabNames.ownerPid(namespace);
      if (pid.isPresent() && !LabNames.alive(pid.getAsLong())) {
        try {
          deleteNamespace(namespace);
          swept.add(namespace);
        } catch (LabException e) {
          // Another run may be sweeping the same namespace right now.
          if (Files.exists(io.baton.linux.Netns.pathOf(namespace))) throw e;
        }
      }
    }
    if (!swept.isEmpty()) log.info("swept {} stale lab namespaces: {}", swept.size(), swept);
    sweepStaleDirs();
    return swept;
  }

  /** Deletes the temporary directories of dead runs, which a SIGKILL leaves behind. */
  private static void sweepStaleDirs() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    try (Stream<Path> entries = Files.list(tmp)) {
      for (Path p : entries.toList()) {
        OptionalLong pid = LabNames.dirOwnerPid(p.getFileName().toString());
        if (pid.isPresent() && !LabNames.alive(pid.getAsLong()) && Files.isDirectory(p))
          deleteTree(p);
      }
    } catch (IOException e) {
      log.warn("cannot sweep stale lab directories in {}: {}", tmp, e.toString());
    }
  }

  /**
   * Namespaces with the lab naming scheme that belong to this JVM or to a dead one: after every lab
   * is closed and {@link #sweepStale()} has run, a leak-free run sees none.
   */
  public static List<String> leftovers() {
    long self = ProcessHandle.current().pid();
    return LabNames.existing().stream()
        .filter(
            n -> {
              long pid = LabNames.ownerPid(n).orElseThrow();
              return pid == self || !LabNames.alive(pid);
            })
        .toList();
  }

  @Override
  public String toString() {
    return "lab " + purpose + " #" + number;
  }

  String nextPeerName() {
    return "bv" + Long.toHexString(PEER_NUMBERS.incrementAndGet());
  }

  // guarded by this
  private void addNamespace(String namespace) {
    CommandRunner.runOrThrow(List.of("ip", "netns", "add", namespace));
    namespaces.add(namespace);
  }

  private static void deleteNamespace(String namespace) {
    deletePerNamespaceLocks(namespace);
    CommandRunner.runOrThrow(List.of("ip", "netns", "del", namespace));
  }

  /** Where Baton keeps per-namespace lock files (see io.baton.dataplane.ForwardingTableLock). */
  static final Path LOCK_DIRECTORY = Path.of("/run/baton");

  /**
   * Deletes the lock files Baton keeps for {@code namespace} ({@code
   * /run/baton/*-net-<inode>.lock}, named by the namespace's identity): the namespace and every
   * process in it are going, and a file per lab namespace would otherwise pile up in /run for good
   * (192 of them here after a few days of tests and benchmarks). Called after the namespace's
   * processes were stopped.
   */
  private static void deletePerNamespaceLocks(String namespace) {
    Path pinned = io.baton.linux.Netns.pathOf(namespace);
    if (!Files.isDirectory(LOCK_DIRECTORY) || !Files.exists(pinned)) return;
    String suffix;
    try {
      suffix = "-net-" + Long.toUnsignedString(io.baton.linux.NetnsIdentity.of(pinned)) + ".lock";
    } catch (io.baton.linux.LinuxException e) {
      log.debug("cannot identify namespace {}: {}", namespace, e.getMessage());
      return;
    }
    try (var files = Files.newDirectoryStream(LOCK_DIRECTORY, "*" + suffix)) {
      for (Path f : files) Files.deleteIfExists(f);
    } catch (java.io.IOException e) {
      log.warn(
          "cannot delete the lock files of namespace {} in {}: {}",
          namespace,
          LOCK_DIRECTORY,
          e.toString());
    }
    // Drain flags: /run/baton/drain-<node>-net-<inode>.
    try (var files =
        Files.newDirectoryStream(
            LOCK_DIRECTORY, "drain-*" + suffix.substring(0, suffix.length() - ".lock".length()))) {
      for (Path f : files) Files.deleteIfExists(f);
    } catch (java.io.IOException e) {
      log.warn(
          "cannot delete the drain flags of namespace {} in {}: {}",
          namespace,
          LOCK_DIRECTORY,
          e.toString());
    }
    // A dispatcher's BGP daemon files: /run/baton/bgp-<node>-net-<inode>/.
    String birdDirs = "bgp-*" + suffix.substring(0, suffix.length() - ".lock".length());
    try (var dirs = Files.newDirectoryStream(LOCK_DIRECTORY, birdDirs)) {
      for (Path d : dirs) {
        try (var inside = Files.list(d)) {
          for (Path f : inside.toList()) Files.deleteIfExists(f);
        }
        Files.deleteIfExists(d);
      }
    } catch (java.io.IOException e) {
      log.warn(
          "cannot delete the BGP files of namespace {} in {}: {}",
          namespace,
          LOCK_DIRECTORY,
          e.toString());
    }
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException(this + " is closed");
  }

  private void closeAfterFailure(RuntimeException failure) {
    try {
      close();
    } catch (RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", dir, e.toString());
    }
  }
}
