package io.baton.sync;

import io.baton.log.RateLimitedLog;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jgroups.Address;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.Message;
import org.jgroups.Receiver;
import org.jgroups.View;
import org.jgroups.protocols.AUTH;
import org.jgroups.protocols.FD_ALL3;
import org.jgroups.protocols.FD_SOCK2;
import org.jgroups.protocols.FRAG4;
import org.jgroups.protocols.MERGE3;
import org.jgroups.protocols.MFC;
import org.jgroups.protocols.SYM_ENCRYPT;
import org.jgroups.protocols.TCPPING;
import org.jgroups.protocols.TCP_NIO2;
import org.jgroups.protocols.UFC;
import org.jgroups.protocols.UNICAST3;
import org.jgroups.protocols.VERIFY_SUSPECT2;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.protocols.pbcast.NAKACK2;
import org.jgroups.protocols.pbcast.STABLE;
import org.jgroups.stack.Protocol;
import org.jgroups.util.NameCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's place in the sync plane: a JGroups channel bound to the node's sync address, the
 * timer that publishes its {@link NodeReport} every report interval, and the {@link FarmState} that
 * the other nodes' reports and JGroups' views keep current.
 *
 * <p>The stack, bottom up: TCP_NIO2 (bound to the sync address; no multicast; non-blocking
 * connects: with the blocking TCP transport, a seed that was down, whose connect hung until its
 * timeout, held up this node's own messages for seconds at a time), TCPPING (the configured seeds),
 * MERGE3, FD_SOCK2 (a killed process's kernel closes its sockets: suspected at once), FD_ALL3 and
 * VERIFY_SUSPECT2 (a silent one), SYM_ENCRYPT (AES-256-CBC under a key derived from the cluster
 * key; a node without it can neither read nor join), NAKACK2, UNICAST3, STABLE, AUTH ({@link
 * ClusterKeyToken}), GMS, UFC, MFC, FRAG4. Reports carry their own HMAC seal as well ({@link
 * SyncCodec}), since CBC alone does not protect integrity.
 *
 * <p>Thread-safe. JGroups delivers on its own threads; the reports leave from one timer thread.
 */
public final class SyncPlane implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SyncPlane.class);
  private static final RateLimitedLog rejectedLog =
      new RateLimitedLog(log, "refused sync messages", 10);

  /** The cluster name every Baton node joins. */
  static final String CLUSTER = "baton";

  /**
   * How long a starting node waits for an existing cluster to answer before it founds one. A node
   * joining a running cluster is answered in ~0.1 s and does not wait longer; only the one that
   * founds the cluster waits this out. 0.5 s was too short on a busy 2-core host: a dispatcher
   * restarted under load founded a cluster of its own, saw no server eligible and answered 503
   * until MERGE3 joined the views ~5 s later.
   */
  static final long JOIN_TIMEOUT_MS = 2000;

  /**
   * Discovery requests a joining node sends to every seed within its join timeout (one every 0.5
   * s). One request was not enough for a process that restarts on the same sync address (a
   * dispatcher's --take-over): members still sending to the old process connect to the address as
   * soon as the new one binds it, and when such a member and the newcomer connect to each other at
   * once, JGroups keeps the connection the higher address opened and closes the other, losing the
   * discovery request the newcomer wrote on it. When that member was the coordinator, the newcomer
   * saw no coordinator within the timeout, founded a cluster of its own and, being a dispatcher,
   * waited seconds for MERGE3 before it could hand off (1 take-over in 3-4 under load in
   * EcmpFarmLabTest; wrk's connections timed out in the listen backlog).
   */
  static final int DISCOVERY_RUNS = 4;

  private final SyncSettings settings;
  private final JChannel channel;
  private final FarmState farm;
  private final Supplier<LocalLoad> load;
  private final LongSupplier nanoClock;
  private final ScheduledExecutorService timer;
  private final SyncCodec encoder; // timer thread only
  private final ThreadLocal<SyncCodec> decoders;
  private final long incarnation = System.currentTimeMillis();
  private long sequence; // confined to the timer thread
  private long lastHandoffs; // confined to the timer thread
  private long lastReportNs; // confined to the timer thread
  final LongAdder reportsSent = new LongAdder();
  final LongAdder reportsRejected = new LongAdder();
  final LongAdder sendFailures = new LongAdder();
  private volatile long viewFormedNs;

  /** Connection ownership: what this node publishes and what it hears. */
  private final OwnershipRelay ownership;

  private SyncPlane(
      SyncSettings settings, JChannel channel, Supplier<LocalLoad> load, LongSupplier nanoClock) {
    this.settings = settings;
    this.channel = channel;
    this.load = load;
    this.nanoClock = nanoClock;
    this.farm = new FarmState(settings.staleAfter().toNanos(), nanoClock);
    this.encoder = new SyncCodec(settings.keys());
    this.decoders = ThreadLocal.withInitial(() -> new SyncCodec(settings.keys()));
    this.ownership = new OwnershipRelay(settings, incarnation, this::sendToMembers, rejectedLog);
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-sync");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Joins the farm's cluster (or founds it, if no seed answers within {@value #JOIN_TIMEOUT_MS} ms)
   * and starts reporting. {@code load} is asked once per report interval, on the timer thread.
   */
  public static SyncPlane start(
      SyncSettings settings, Supplier<LocalLoad> load, LongSupplier nanoClock) throws Exception {
    JChannel channel = new JChannel(stack(settings));
    // JGroups' probe service would listen on a multicast socket: nothing of the farm's state
    // leaves the sync plane unauthenticated.
    channel.getProtocolStack().getTransport().getDiagnosticsHandler().setEnabled(false);
    SyncPlane plane = new SyncPlane(settings, channel, load, nanoClock);
    channel.setName(settings.node());
    channel.setDiscardOwnMessages(
        false); // a node's own report makes it eligible in its own view (peer mode)
    channel.setReceiver(plane.new Delivery());
    long startNs = nanoClock.getAsLong();
    try {
      checkBindable(settings);
      channel.connect(CLUSTER);
    } catch (Exception e) {
      channel.close();
      plane.timer.shutdownNow();
      throw new java.io.IOException(
          "cannot join the sync plane on "
              + settings.bindAddress().getHostAddress()
              + ":"
              + settings.port()
              + ": "
              + e.getMessage(),
          e);
    }
    log.info(
        "sync: {} joined the farm's cluster in {} ms; view {}",
        settings.node(),
        (nanoClock.getAsLong() - startNs) / 1_000_000,
        channel.getView());
    long periodMs = settings.reportInterval().toMillis();
    plane.timer.scheduleAtFixedRate(plane::publish, 0, periodMs, TimeUnit.MILLISECONDS);
    plane.timer.scheduleWithFixedDelay(
        plane.ownership::flush,
        OwnershipRelay.FLUSH_MS,
        OwnershipRelay.FLUSH_MS,
        TimeUnit.MILLISECONDS);
    return plane;
  }

  /**
   * Says plainly what JGroups would report as "no available port": the sync address is not on this
   * host, or a port it needs is taken.
   */
  private static void checkBindable(SyncSettings s) throws java.io.IOException {
    try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
      probe.bind(new InetSocketAddress(s.bindAddress(), 0));
    } catch (java.net.BindException e) {
      throw new java.io.IOException(
          "the sync address "
              + s.bindAddress().getHostAddress()
              + " is not on any interface of this host (see node.interfaces.sync)");
    }
    for (int port : new int[] {s.port(), s.port() + 1}) {
      try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
        probe.setReuseAddress(true);
        probe.bind(new InetSocketAddress(s.bindAddress(), port));
      } catch (java.io.IOException e) {
        throw new java.io.IOException(
            "port "
                + port
                + " on "
                + s.bindAddress().getHostAddress()
                + " is taken ("
                + e.getMessage()
                + "): another Baton node or another program; the sync plane needs sync.port and"
                + " sync.port + 1");
      }
    }
  }

  static List<Protocol> stack(SyncSettings s) {
    TCP_NIO2 tcp = new TCP_NIO2();
    tcp.setBindAddress(s.bindAddress());
    tcp.setBindPort(s.port());
    tcp.setPortRange(0);
    tcp.enableStats(true); // bytes sent and received, for the metrics
    TCPPING ping = new TCPPING();
    ping.setInitialHosts(s.seedAddresses());
    ping.setPortRange(0);
    ping.numDiscoveryRuns(DISCOVERY_RUNS);
    FD_SOCK2 fdSock = new FD_SOCK2();
    fdSock.setBindAddress(s.bindAddress());
    fdSock.setOffset(1);
    fdSock.setPortRange(0);
    FD_ALL3 fdAll = new FD_ALL3();
    fdAll.setInterval(500);
    fdAll.setTimeout(3000);
    VERIFY_SUSPECT2 verify = new VERIFY_SUSPECT2();
    verify.setTimeout(500);
    SYM_ENCRYPT encrypt = new SYM_ENCRYPT();
    encrypt.symAlgorithm("AES/CBC/PKCS5Padding");
    encrypt.symIvLength(16);
    encrypt.setSecretKey(s.keys().encryptionKey());
    AUTH auth = new AUTH();
    auth.setAuthToken(new ClusterKeyToken(s.keys()));
    GMS gms = new GMS();
    gms.setJoinTimeout(JOIN_TIMEOUT_MS);
    gms.setValue("print_local_addr", false);
    MERGE3 merge = new MERGE3();
    merge.setMinInterval(1000);
    merge.setMaxInterval(3000);
    return List.of(
        tcp,
        ping,
        merge,
        fdSock,
        fdAll,
        verify,
        encrypt,
        new NAKACK2(),
        new UNICAST3(),
        new STABLE(),
        auth,
        gms,
        new UFC(),
        new MFC(),
        new FRAG4());
  }

  /**
   * Waits, at most {@code limitMs}, until every member of the current view has a report here: a
   * dispatcher that binds its VIPs before that would refuse servers that are merely unheard of.
   * Returns whether they all did.
   */
  public boolean awaitReports(long limitMs) throws InterruptedException {
    long deadline = nanoClock.getAsLong() + limitMs * 1_000_000L;
    while (true) {
      FarmSnapshot s = farm.snapshot();
      if (!s.view().isEmpty() && s.reports().keySet().containsAll(s.view())) return true;
      if (nanoClock.getAsLong() > deadline) return false;
      Thread.sleep(5); // polling the farm state with a deadline
    }
  }

  public FarmState farm() {
    return farm;
  }

  /** Members of the current view. */
  public int viewSize() {
    View v = channel.getView();
    return v == null ? 0 : v.size();
  }

  public long reportsSent() {
    return reportsSent.sum();
  }

  public long reportsAccepted() {
    return farm.reportsAccepted.sum();
  }

  /** Reports refused: bad seal, malformed, or a replay. */
  public long reportsRejected() {
    return reportsRejected.sum() + farm.reportsReplayed.sum();
  }

  public long viewChanges() {
    return farm.viewChanges.sum();
  }

  /** Bytes JGroups sent and received on the sync network (all protocols, headers included). */
  public long bytesSent() {
    return channel.getProtocolStack().getTransport().getMessageStats().getNumBytesSent();
  }

  public long bytesReceived() {
    return channel.getProtocolStack().getTransport().getMessageStats().getNumBytesReceived();
  }

  /** When the last view arrived ({@code nanoClock} scale). */
  public long viewFormedNs() {
    return viewFormedNs;
  }

  private void publish() {
    try {
      LocalLoad l = load.get();
      long now = nanoClock.getAsLong();
      long elapsedNs = lastReportNs == 0 ? settings.reportInterval().toNanos() : now - lastReportNs;
      long rate =
          lastReportNs == 0
              ? 0
              : Math.max(
                  0, (l.handoffsTotal() - lastHandoffs) * 1_000_000_000L / Math.max(1, elapsedNs));
      lastReportNs = now;
      lastHandoffs = l.handoffsTotal();
      NodeReport report =
          new NodeReport(
              settings.node(),
              settings.roles(),
              settings.fabricAddress(),
              incarnation,
              ++sequence,
              l.activeConnections(),
              (int) Math.min(Integer.MAX_VALUE, rate),
              cpuPermille(),
              l.healthy(),
              l.health(),
              l.draining(),
              settings.services());
      // A report is a whole state that the next one replaces: sent without NAKACK2's sequence
      // numbers and retransmissions. A report that met a view change is not delivered late and
      // does not hold back the ones after it (the FarmState orders reports by their own sequence).
      channel.send(
          new BytesMessage(null, encoder.encode(report)).setFlag(Message.Flag.NO_RELIABILITY));
      reportsSent.increment();
    } catch (Exception | Error e) {
      sendFailures.increment();
      rejectedLog.warn(
          "sync: cannot publish this node's report: {}", String.valueOf(e.getMessage()));
    } finally {
      farm.logChanges(); // staleness is news even when nothing arrives
    }
  }

  private static int cpuPermille() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      double load = os.getCpuLoad();
      return load < 0 ? 0 : (int) Math.round(load * 1000);
    }
    return 0;
  }

  @Override
  public void close() {
    timer.shutdownNow();
    channel.close();
  }

  /** JGroups' callbacks: views and messages. */
  private final class Delivery implements Receiver {
    @Override
    public void viewAccepted(View view) {
      Set<String> names =
          view.getMembers().stream().map(SyncPlane::name).collect(Collectors.toSet());
      viewFormedNs = nanoClock.getAsLong();
      log.info("sync: view {} with {} members: {}", view.getViewId().getId(), view.size(), names);
      Set<String> before = farm.snapshot().view();
      farm.view(names);
      ownership.viewChanged(before, names);
    }

    @Override
    public void receive(Message msg) {
      Object message;
      try {
        message = decoders.get().decode(msg.getArray(), msg.getOffset(), msg.getLength());
      } catch (SyncCodec.RejectedException e) {
        reportsRejected.increment();
        rejectedLog.warn("sync: refused a message from {}: {}", name(msg.getSrc()), e.getMessage());
        return;
      }
      String sender = name(msg.getSrc());
      switch (message) {
        case NodeReport report -> {
          if (!report.node().equals(sender)) {
            reportsRejected.increment();
            rejectedLog.warn(
                "sync: refused a report from {} that claims to be {}", sender, report.node());
            return;
          }
          farm.report(report);
        }
        case OwnershipUpdate update -> ownership.receive(sender, update);
        default -> throw new IllegalStateException("unexpected message " + message);
      }
    }
  }

  /**
   * Sends a sealed ownership update as unicasts (reliable and in order per receiver) to each other
   * member that forwards (a dispatcher, or one whose role is not known yet), or with {@code
   * everyone} to every other member. A multicast would also reach the servers, which have no use
   * for it (half a server's sync traffic at 1,000 handoffs/s).
   */
  private void sendToMembers(byte[] bytes, boolean everyone) throws Exception {
    View view = channel.getView();
    if (view == null) return;
    FarmSnapshot snapshot = farm.snapshot();
    for (Address member : view.getMembers()) {
      if (member.equals(channel.getAddress())) continue;
      NodeReport r = snapshot.report(name(member));
      if (!everyone && r != null && !r.roles().contains("dispatcher")) continue;
      channel.send(new BytesMessage(member, bytes));
    }
  }

  /** See {@link OwnershipRelay#changed}. Any thread. */
  public void ownershipChanged(OwnershipUpdate.Change change) {
    ownership.changed(change);
  }

  /** The server side: where the full list of open connections comes from; starts publishing. */
  public void publishOwnership(OwnershipSource source) {
    ownership.publish(source);
  }

  /**
   * The dispatcher side: where the servers' ownership updates go, starting with those that arrived
   * since the node joined.
   */
  public void receiveOwnership(OwnershipSink sink) {
    ownership.deliverTo(sink);
  }

  public long ownershipChangesSent() {
    return ownership.changesSent.sum();
  }

  public long ownershipChangesReceived() {
    return ownership.changesReceived.sum();
  }

  public long ownershipRejected() {
    return ownership.rejected.sum();
  }

  /** A server's open connections, for a full publication. */
  @FunctionalInterface
  public interface OwnershipSource {
    List<OwnershipUpdate.Change> openConnections();
  }

  /**
   * Applies a server's update; false if it refused it (e.g. the claim does not match the config).
   */
  @FunctionalInterface
  public interface OwnershipSink {
    boolean apply(OwnershipUpdate update);
  }

  private static String name(Address a) {
    if (a == null) return "(unknown)";
    String n = NameCache.get(a);
    return n != null ? n : a.toString();
  }

  /** Where this node listens for the sync plane. */
  public InetSocketAddress address() {
    return new InetSocketAddress(settings.bindAddress(), settings.port());
  }
}
