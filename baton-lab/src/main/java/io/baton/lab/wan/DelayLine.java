package io.baton.lab.wan;

import io.baton.lab.Host;
import io.baton.lab.LabAddress;
import io.baton.lab.LabException;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.Tun;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An emulated WAN link inside one lab host, in place of netem (which this kernel lacks): every IPv4
 * packet that <em>arrives</em> on either of two interfaces is policy-routed into TUN device {@value
 * #DEVICE}, read by Java, put through the {@link WanLink}'s loss, queue, rate and delay, and
 * written back into the device. The kernel receives it there (input interface {@value #DEVICE}, so
 * the policy rules no longer match) and routes it by the main table out of the other interface.
 * Packets to or from the host itself are not delayed: local delivery comes before the policy rules,
 * and locally sent packets never arrive on an interface.
 *
 * <p>A packet's direction is told by its destination: into one of the side-A prefixes is {@link
 * Direction#B_TO_A}, anything else {@link Direction#A_TO_B}. Each direction has its own queue,
 * serialization clock and counters. Packets that are not IPv4 (the device's own IPv6 router
 * solicitations, say) are dropped and only counted ({@link #ignoredPackets}).
 *
 * <p>Threads: a reader thread owns the device's reads, the random choices and each direction's
 * serialization clock; a release thread writes packets back in order of their release time, parking
 * until the earliest is due. The two share the pending packets under the queue's monitor. Every
 * public method may be called from any thread.
 */
public final class DelayLine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DelayLine.class);

  /** The TUN device's name inside the host. */
  public static final String DEVICE = "tun0";

  /** The routing table that sends arriving packets into the device. */
  public static final int TABLE = 100;

  private static final int MTU = 1500;

  /**
   * The kernel's queue in front of the reader (the device's ring; 500 packets by default): room for
   * what arrives while the reader thread is descheduled, so that only the emulated queue ({@link
   * WanLink#queueLimitBytes}) ever drops. A drop here shows as tx_dropped of the device.
   */
  private static final int DEVICE_QUEUE_PACKETS = 10_000;

  /** How long the reader waits in poll(2) before it looks at the stop flag again. */
  private static final int READ_POLL_MS = 50;

  /** How long the release thread parks with nothing pending before it looks at the stop flag. */
  private static final long IDLE_PARK_NS = TimeUnit.MILLISECONDS.toNanos(50);

  /**
   * The default timer slack of a Linux thread (prctl(2) PR_SET_TIMERSLACK,
   * /proc/PID/timerslack_ns): a timed park may end up to this much after its deadline, so the
   * release thread parks until this much before a packet's time and releases it once the time is
   * this close. Release errors then centre on zero instead of always running late (measured here: a
   * 1 ms park ends 74 us late at the median).
   */
  private static final long TIMER_SLACK_NS = 50_000;

  private static final long JOIN_MS = 5_000;
  private static final int IPV4_MIN_HEADER_BYTES = 20;
  private static final int IPV4_DESTINATION_OFFSET = 16;

  /** Which way a packet crosses the line, told by its destination. */
  public enum Direction {
    /** Towards anything not in the side-A prefixes. */
    A_TO_B,
    /** Towards the side-A prefixes. */
    B_TO_A
  }

  /**
   * One direction's counters at one moment. Every packet that came in is eventually lost,
   * queue-dropped, forwarded, failed to write, or still held. Immutable.
   *
   * @param packetsIn IPv4 packets read from the device
   * @param bytesIn their bytes, IP headers included
   * @param lost dropped at random ({@link WanLink#lossProbability})
   * @param queueDropped dropped because the queue was full ({@link WanLink#queueLimitBytes})
   * @param forwarded written back into the device
   * @param forwardedBytes their bytes
   * @param writeFailures packets the device refused on the way back
   * @param largestPacketBytes the longest packet read (above the MTU would mean GSO got through)
   */
  public record Counters(
      long packetsIn,
      long bytesIn,
      long lost,
      long queueDropped,
      long forwarded,
      long forwardedBytes,
      long writeFailures,
      int largestPacketBytes) {}

  private final Host host;
  private final List<String> interfaces;
  private final Tun.Device device;
  private final int[] sideANetworks;
  private final int[] sideAMasks;
  private final Lane aToB = new Lane();
  private final Lane bToA = new Lane();
  private final LongAdder ignored = new LongAdder();

  /** Guarded by its own monitor: the reader adds, the release thread removes. */
  private final PriorityQueue<Pending> pending =
      new PriorityQueue<>(
          Comparator.comparingLong(Pending::releaseNs).thenComparingLong(Pending::order));

  private final Thread reader;
  private final Thread releaser;

  private volatile WanLink link;
  private volatile boolean running = true;
  private volatile Exception failure;
  private boolean closed; // guarded by this

  private DelayLine(
      Host host, List<String> interfaces, Tun.Device device, List<LabAddress> sideA, WanLink link) {
    this.host = host;
    this.interfaces = interfaces;
    this.device = device;
    this.link = link;
    this.sideANetworks = sideA.stream().mapToInt(LabAddress::address).toArray();
    this.sideAMasks = sideA.stream().mapToInt(p -> -1 << (32 - p.prefixLength())).toArray();
    this.reader =
        Thread.ofPlatform().daemon(true).name("wan-read-" + host.name()).unstarted(this::readLoop);
    this.releaser =
        Thread.ofPlatform()
            .daemon(true)
            .name("wan-release-" + host.name())
            .unstarted(this::releaseLoop);
  }

  /**
   * Builds the line in {@code host} between {@code interfaceA} and {@code interfaceB}: creates
   * {@value #DEVICE} (MTU 1500, up), turns forwarding on and reverse-path filtering off (packets
   * come back from the device with sources that are routed elsewhere), routes table {@value #TABLE}
   * into the device and adds one rule per interface, then starts both threads.
   *
   * @param sideAPrefixes the networks behind {@code interfaceA}, e.g. {@code 198.18.4.0/24}
   */
  public static DelayLine start(
      Host host, String interfaceA, String interfaceB, List<String> sideAPrefixes, WanLink link) {
    if (link == null) throw new IllegalArgumentException("link settings are missing");
    if (sideAPrefixes.isEmpty()) {
      throw new IllegalArgumentException("no side-A prefixes: every packet would count as A to B");
    }
    List<LabAddress> sideA =
        sideAPrefixes.stream().map(p -> LabAddress.parseCidr(p).network()).toList();
    Tun.Device device;
    try {
      // TUNSETIFF creates the device in the calling thread's namespace: the host's own thread.
      device = host.call(() -> Tun.open(DEVICE));
    } catch (Exception e) {
      throw new LabException(
          "cannot create TUN device " + DEVICE + " in " + host + ": " + e.getMessage(), e);
    }
    DelayLine line = new DelayLine(host, List.of(interfaceA, interfaceB), device, sideA, link);
    try {
      line.configureHost();
    } catch (RuntimeException e) {
      line.running = false;
      line.closeDeviceAndRules();
      throw e;
    }
    line.reader.start();
    line.releaser.start();
    log.debug(
        "{}: delay line between {} and {} ({} to side A): {}",
        host,
        interfaceA,
        interfaceB,
        sideA,
        link);
    return line;
  }

  /** The settings in force. */
  public WanLink link() {
    return link;
  }

  /**
   * Applies {@code newLink} to packets that arrive from now on; packets already held keep their
   * release times. The random choices restart from the new link's seed.
   */
  public void setLink(WanLink newLink) {
    if (newLink == null) throw new IllegalArgumentException("link settings are missing");
    link = newLink;
  }

  /** {@code direction}'s counters, read now. */
  public Counters counters(Direction direction) {
    return (direction == Direction.A_TO_B ? aToB : bToA).snapshot();
  }

  /** Packets read from the device that were not IPv4 (dropped, not counted in any direction). */
  public long ignoredPackets() {
    return ignored.sum();
  }

  /**
   * Both directions' counters and the ignored and held packets on one line, for logs and messages.
   */
  public String countersText() {
    List<String> parts = new ArrayList<>();
    for (Direction d : Direction.values()) parts.add(d + " " + counters(d));
    return String.join("; ", parts) + "; ignored " + ignoredPackets() + ", held " + packetsHeld();
  }

  /** Packets accepted but not yet written back: in the queue or on the (emulated) wire. */
  public int packetsHeld() {
    synchronized (pending) {
      return pending.size();
    }
  }

  /** What stopped the reader or the release thread, if one stopped on an error. */
  public Optional<Exception> failure() {
    return Optional.ofNullable(failure);
  }

  /**
   * Stops both threads (each within a bounded wait), closes the device, which deletes it with its
   * route, and deletes the policy rules. Packets still held are dropped. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    running = false;
    LockSupport.unpark(releaser);
    closeDeviceAndRules();
  }

  @Override
  public String toString() {
    return "delay line in " + host + " between " + interfaces + ": " + link;
  }

  // Called once, before the threads start.
  private void configureHost() {
    host.execOrThrow(
        "ip",
        "link",
        "set",
        DEVICE,
        "mtu",
        String.valueOf(MTU),
        "txqueuelen",
        String.valueOf(DEVICE_QUEUE_PACKETS),
        "up");
    host.sysctl("net.ipv4.ip_forward", "1");
    for (String scope : List.of("all", "default", DEVICE)) {
      host.sysctl("net.ipv4.conf." + scope + ".rp_filter", "0");
    }
    host.execOrThrow(
        "ip", "route", "add", "default", "dev", DEVICE, "table", String.valueOf(TABLE));
    for (String dev : interfaces) {
      host.execOrThrow("ip", "rule", "add", "iif", dev, "lookup", String.valueOf(TABLE));
    }
  }

  private void closeDeviceAndRules() {
    boolean stopped = join(reader) & join(releaser);
    // Never close a descriptor a live thread may still use: the number could be reused by
    // anything the JVM opens next, and packets would be written into it.
    if (stopped) {
      device.close();
    } else {
      log.warn(
          "{}: a thread did not stop within {} ms; {} stays until the namespace goes",
          host,
          JOIN_MS,
          DEVICE);
    }
    for (String dev : interfaces) {
      try {
        host.exec("ip", "rule", "del", "iif", dev, "lookup", String.valueOf(TABLE));
      } catch (IllegalStateException e) {
        return; // the lab closed the host first: its namespace, rules and all, is gone
      }
    }
  }

  private boolean join(Thread thread) {
    if (thread.getState() == Thread.State.NEW) return true;
    try {
      thread.join(JOIN_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }

  // Reader thread.
  private void readLoop() {
    byte[] buffer = new byte[Tun.MAX_PACKET_BYTES];
    WanLink settings = null;
    SplittableRandom random = null;
    long order = 0;
    try {
      while (running) {
        int length = Tun.read(device.fd(), buffer);
        if (length < 0) {
          Sockets.poll(device.fd(), Sockets.POLLIN, READ_POLL_MS);
          continue;
        }
        WanLink current = link;
        if (current != settings) {
          settings = current;
          random = new SplittableRandom(current.seed());
        }
        Pending packet = admit(buffer, length, current, random, order, System.nanoTime());
        if (packet != null) {
          order++;
          hold(packet);
        }
      }
    } catch (LinuxException | RuntimeException e) {
      stopOnFailure("reading " + DEVICE, e);
    }
  }

  /**
   * The packet with its release time, or null when the link drops it. Loss comes first (a lost
   * packet takes no room in the queue), then tail drop against the bytes still waiting for
   * serialization, then serialization behind the direction's previous packet and the delay.
   */
  private Pending admit(
      byte[] buffer,
      int length,
      WanLink settings,
      SplittableRandom random,
      long order,
      long nowNs) {
    if (length < IPV4_MIN_HEADER_BYTES || (buffer[0] & 0xF0) != 0x40) {
      ignored.increment();
      return null;
    }
    Lane lane = isSideA(destinationOf(buffer)) ? bToA : aToB;
    lane.packetsIn.increment();
    lane.bytesIn.add(length);
    lane.largestPacket.accumulateAndGet(length, Math::max);
    if (settings.lossProbability() > 0 && random.nextDouble() < settings.lossProbability()) {
      lane.lost.increment();
      return null;
    }
    long backlogNs = Math.max(0, lane.lastDepartureNs - nowNs);
    double backlogBytes = backlogNs * (settings.bitsPerSecond() / 8e9);
    if (backlogBytes + length > settings.queueLimitBytes()) {
      lane.queueDropped.increment();
      return null;
    }
    long departureNs =
        (backlogNs > 0 ? lane.lastDepartureNs : nowNs) + settings.serializationNs(length);
    lane.lastDepartureNs = departureNs;
    long releaseNs = departureNs + settings.oneWayDelay().toNanos();
    if (settings.reorderProbability() > 0 && random.nextDouble() < settings.reorderProbability()) {
      releaseNs += settings.reorderDelay().toNanos();
    }
    return new Pending(releaseNs, order, lane, Arrays.copyOf(buffer, length));
  }

  private void hold(Pending packet) {
    boolean first;
    synchronized (pending) {
      pending.add(packet);
      first = pending.peek() == packet;
    }
    // The release thread may be parked until a later packet's time, or with nothing pending.
    if (first) LockSupport.unpark(releaser);
  }

  // Release thread.
  private void releaseLoop() {
    boolean warned = false;
    try {
      while (running) {
        Pending due = null;
        long waitNs;
        synchronized (pending) {
          Pending head = pending.peek();
          long nowNs = System.nanoTime();
          if (head == null) {
            waitNs = IDLE_PARK_NS;
          } else if (head.releaseNs() - nowNs <= TIMER_SLACK_NS) {
            due = pending.poll();
            waitNs = 0;
          } else {
            waitNs = head.releaseNs() - nowNs - TIMER_SLACK_NS;
          }
        }
        if (due == null) {
          LockSupport.parkNanos(this, waitNs);
          continue;
        }
        String refusal = release(due);
        if (refusal != null && !warned) {
          warned = true;
          log.warn(
              "{}: {} refused a packet on the way back ({}); counting further refusals silently",
              host,
              DEVICE,
              refusal);
        }
      }
    } catch (RuntimeException e) {
      stopOnFailure("releasing into " + DEVICE, e);
    }
  }

  /** Writes {@code packet} back; returns why the device refused it, or null. */
  private String release(Pending packet) {
    byte[] bytes = packet.bytes();
    Lane lane = packet.lane();
    try {
      if (Tun.write(device.fd(), bytes, bytes.length) < 0) {
        lane.writeFailures.increment();
        return "device busy";
      }
    } catch (LinuxException e) {
      lane.writeFailures.increment();
      return e.getMessage();
    }
    lane.forwarded.increment();
    lane.forwardedBytes.add(bytes.length);
    return null;
  }

  private void stopOnFailure(String what, Exception e) {
    if (!running) return; // closing: errors from the closing device are expected
    failure = e;
    running = false;
    log.error("{}: {} failed; the line is down", host, what, e);
  }

  private boolean isSideA(int destination) {
    for (int i = 0; i < sideANetworks.length; i++) {
      if ((destination & sideAMasks[i]) == sideANetworks[i]) return true;
    }
    return false;
  }

  private static int destinationOf(byte[] packet) {
    int at = IPV4_DESTINATION_OFFSET;
    return (packet[at] & 0xFF) << 24
        | (packet[at + 1] & 0xFF) << 16
        | (packet[at + 2] & 0xFF) << 8
        | (packet[at + 3] & 0xFF);
  }

  /**
   * A packet waiting for its release time; {@code order} keeps equal times first come, first
   * served.
   */
  private record Pending(long releaseNs, long order, Lane lane, byte[] bytes) {}

  /**
   * One direction: its serialization clock, confined to the reader thread, and its counters, which
   * any thread may read.
   */
  private static final class Lane {
    /** When the last admitted packet finishes serialization (nanoTime); starts in the past. */
    long lastDepartureNs = System.nanoTime();

    final LongAdder packetsIn = new LongAdder();
    final LongAdder bytesIn = new LongAdder();
    final LongAdder lost = new LongAdder();
    final LongAdder queueDropped = new LongAdder();
    final LongAdder forwarded = new LongAdder();
    final LongAdder forwardedBytes = new LongAdder();
    final LongAdder writeFailures = new LongAdder();
    final AtomicInteger largestPacket = new AtomicInteger();

    Counters snapshot() {
      return new Counters(
          packetsIn.sum(),
          bytesIn.sum(),
          lost.sum(),
          queueDropped.sum(),
          forwarded.sum(),
          forwardedBytes.sum(),
          writeFailures.sum(),
          largestPacket.get());
    }
  }
}
