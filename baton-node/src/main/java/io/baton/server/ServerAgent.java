package io.baton.server;

import io.baton.log.RateLimitedLog;
import io.baton.dataplane.HostPreparation;
import io.baton.dataplane.VipGuard;
import io.baton.dataplane.ReceiveBuffers;
import io.baton.app.SampleApp;
import io.baton.config.BatonConfig;
import io.baton.dataplane.Vip;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffReply;
import io.baton.handoff.HandoffServer;
import io.baton.handoff.Liveness;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.server.delivery.ConnectionInfo;
import io.baton.server.delivery.Delivery;
import io.baton.server.delivery.EmbeddedDelivery;
import io.baton.server.delivery.RelayDelivery;
import io.baton.transplant.ConnectionRestorer;
import io.baton.transplant.ConnectionState;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.StateFormatException;
import io.baton.transplant.TransplantException;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server agent: takes handed-off connections over the fabric, restores each as a local
 * socket bound to the VIP, and gives it to the application configured for that VIP and port
 * (relay to an unmodified upstream, or an embedded Java app). Reports every connection's end
 * (CLOSED) and its load to the dispatchers.
 *
 * <p>Before it listens it checks the host (VIP on lo, ARP and reverse-path settings; applies
 * them when configured to) and installs the {@link VipGuard}, so early packets of a connection
 * in transit are dropped and retransmitted rather than reset.
 *
 * <p>Thread-safe. Handoffs are restored on the fabric event loop that received them.
 */
public final class ServerAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServerAgent.class);
  private static final RateLimitedLog refusedLog = new RateLimitedLog(log, "refused handoff", 10);
  private static final long LOAD_REPORT_PERIOD_MS = 1000;

  private final String nodeName;
  private final Map<String, Delivery> deliveries;
  private final PeerDelivery peer;
  private final int maxConnections;
  private final ExecutorService guardThread;
  private final VipGuard guard;
  private final HandoffServer fabric;
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong closed = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong lateAborts = new AtomicLong();
  private final OwnedConnections owned = new OwnedConnections();
  private final AtomicLong untrusted = new AtomicLong();
  private volatile ClientAddressPolicy clients = new ClientAddressPolicy(List.of());
  private final ScheduledFuture<?> reporter;

  private ServerAgent(String nodeName, Map<String, Delivery> deliveries,
      Map<String, PeerDelivery.Target> peerTargets, int maxConnections,
      ExecutorService guardThread, VipGuard guard, HandoffServer fabric, EventLoopGroup group) {
    this.nodeName = nodeName;
    this.deliveries = deliveries;
    this.peer = new PeerDelivery(peerTargets, active, maxConnections);
    this.maxConnections = maxConnections;
    this.guardThread = guardThread;
    this.guard = guard;
    this.fabric = fabric;
    this.reporter = group.next().scheduleAtFixedRate(this::reportLoad, LOAD_REPORT_PERIOD_MS,
        LOAD_REPORT_PERIOD_MS, TimeUnit.MILLISECONDS);
  }

  /**
   * Checks (or applies) the host preparation, installs the guard, and starts listening for
   * handoffs on the fabric address.
   *
   * @throws HostNotReadyException listing every problem when the host is not prepared
   */
  public static ServerAgent start(BatonConfig config, EventLoopGroup group) throws IOException {
    var server = config.server().orElseThrow(() -> new IllegalArgumentException(
        "node " + config.node().name() + " has no server section"));
    String fabricDevice = config.node().fabric().device();
    Set<Inet4Address> vipAddresses = new LinkedHashSet<>();
    Set<Vip> vips = new LinkedHashSet<>();
    Map<String, Delivery> deliveries = new HashMap<>();
    Map<String, PeerDelivery.Target> peerTargets = new HashMap<>();
    for (io.baton.config.Delivery d : server.deliveries()) {
      vipAddresses.add(d.vip());
      Vip vip = new Vip(d.vip(), d.port());
      vips.add(vip);
      switch (d) {
        case io.baton.config.Delivery.Relay r -> {
          deliveries.put(vip.toString(), new RelayDelivery(group, r.upstream(), config.timeouts().idle()));
          peerTargets.put(vip.toString(), new PeerDelivery.Relay(r.upstream()));
        }
        case io.baton.config.Delivery.Embedded e -> {
          var app = SampleApp.initializer(e.root(), config.node().name());
          deliveries.put(vip.toString(), new EmbeddedDelivery(group, app, config.timeouts().idle()));
          peerTargets.put(vip.toString(), new PeerDelivery.Embedded(app));
        }
      }
    }
    if (server.applyHostPreparation()) {
      for (String change : HostPreparation.apply(vipAddresses, fabricDevice)) {
        log.info("host preparation: {}", change);
      }
    }
    List<String> problems = HostPreparation.check(vipAddresses, fabricDevice);
    if (!problems.isEmpty()) throw new HostNotReadyException(problems);

    ExecutorService guardThread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "baton-guard");
      t.setDaemon(true);
      return t;
    });
    VipGuard guard;
    try {
      guard = guardThread.submit(() -> VipGuard.install(VipGuard.DEFAULT_TABLE, vips)).get();
    } catch (Exception e) {
      guardThread.shutdownNow();
      throw new IOException("cannot install the VIP guard: " + rootMessage(e), e);
    }
    var bind = new InetSocketAddress(config.node().fabric().address(), config.cluster().handoffPort());
    var holder = new ServerAgent[1];
    HandoffServer fabric = new HandoffServer(group, bind, config.cluster().key(), config.node().name(),
        new HandoffServer.Handler() {
          @Override
          public CompletableFuture<HandoffReply> onHandoff(FabricMessage.Handoff handoff, String from) {
            return holder[0].onHandoff(handoff, from);
          }

          @Override
          public HandoffReply onAbort(long handoffId, String from) {
            return holder[0].onAbort(handoffId, from);
          }

          @Override
          public List<FabricMessage.Owned> inventory(String from) {
            return holder[0].owned.of(from);
          }
        }, HandoffServer.frameLimitFor(config.limits().maxHeadBytes(), ReceiveBuffers.maxBytes()),
        new Liveness(config.timeouts().fabricHeartbeat(), config.timeouts().fabricDeadAfter()));
    ServerAgent agent = new ServerAgent(config.node().name(), deliveries, peerTargets,
        config.limits().maxConnections(), guardThread, guard, fabric, group);
    holder[0] = agent;
    List<String> internal = new java.util.ArrayList<>(List.of(fabricDevice));
    config.node().sync().ifPresent(sy -> internal.add(sy.device()));
    agent.clients = ClientAddressPolicy.ofDevices(internal);
    fabric.allowPeers(DispatcherPolicy.of(server.dispatchers(), fabricDevice));
    try {
      fabric.start();
    } catch (Exception e) {
      agent.close();
      throw new IOException("cannot listen for handoffs on " + bind + ": " + rootMessage(e), e);
    }
    log.info("server {} takes handoffs on {} for {}", agent.nodeName, fabric.localAddress(), vips);
    return agent;
  }

  private CompletableFuture<HandoffReply> onHandoff(FabricMessage.Handoff handoff, String from) {
    return CompletableFuture.completedFuture(restoreAndDeliver(handoff, from));
  }

  private HandoffReply onAbort(long handoffId, String from) {
    if (owned.took(from, handoffId)) {
      lateAborts.incrementAndGet();
      return new FabricMessage.Accepted(handoffId);
    }
    return new FabricMessage.Aborted(handoffId);
  }

  private HandoffReply restoreAndDeliver(FabricMessage.Handoff handoff, String from) {
    if (owned.took(from, handoff.handoffId())) {
      return new FabricMessage.Accepted(handoff.handoffId()); // a repeat: already ours
    }
    ConnectionState state;
    try {
      state = ConnectionStateCodec.decode(handoff.state());
    } catch (StateFormatException e) {
      return refuse(handoff, from, "corrupt connection state: " + e.getMessage());
    }
    var clientRefusal = clients.refusal(state.flow().clientIp());
    if (clientRefusal.isPresent()) {
      untrusted.incrementAndGet();
      return refuse(handoff, from, clientRefusal.get());
    }
    String vip = state.flow().localIp().getHostAddress() + ":" + state.flow().localPort();
    Delivery delivery = deliveries.get(vip);
    if (delivery == null) {
      return refuse(handoff, from, "no delivery configured for " + vip + " on " + nodeName);
    }
    if (active.get() >= maxConnections) {
      return refuse(handoff, from, nodeName + " is at its limit of " + maxConnections + " connections");
    }
    ConnectionRestorer.Restored restored;
    try {
      restored = ConnectionRestorer.restore(state, ConnectionRestorer.Options.DEFAULT);
    } catch (TransplantException e) {
      return refuse(handoff, from, e.getMessage());
    }
    try {
      // Answers go out at once, as from the application's own listener.
      Sockets.setInt(restored.fd(), Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1, "TCP_NODELAY");
    } catch (LinuxException e) {
      log.debug("{}: {}", state.flow(), e.getMessage());
    }
    active.incrementAndGet();
    accepted.incrementAndGet();
    long id = handoff.handoffId();
    owned.opened(from, id, state.flow());
    var info = new ConnectionInfo(state.flow(), handoff.requestSummary());
    delivery.deliver(restored.fd(), restored.unsentTail(), info, (fromClient, toClient) -> {
      active.decrementAndGet();
      closed.incrementAndGet();
      owned.closed(from, id);
      // Only the dispatcher that handed it over keeps its entry; if it is not connected now,
      // the inventory of its next session tells it.
      fabric.sendTo(from, new FabricMessage.Closed(state.flow(), id, fromClient, toClient));
    });
    log.debug("took {} from {}: {}", state.flow(), from, handoff.requestSummary());
    return new FabricMessage.Accepted(handoff.handoffId());
  }

  private HandoffReply refuse(FabricMessage.Handoff handoff, String from, String reason) {
    refused.incrementAndGet();
    refusedLog.info("refused handoff {} from {}: {}", handoff.handoffId(), from, reason);
    return new FabricMessage.Refused(handoff.handoffId(), reason);
  }

  private void reportLoad() {
    try {
      fabric.broadcast(new FabricMessage.LoadReport(nodeName, active.get(), accepted.get(), closed.get()));
    } catch (RuntimeException e) {
      log.debug("load report not sent: {}", e.toString());
    }
  }

  /** Serves connections this node's own dispatcher picks it for (peer mode), without a handoff. */
  public LocalDelivery localDelivery() {
    return peer;
  }

  public int activeConnections() {
    return active.get();
  }

  public long acceptedTotal() {
    return accepted.get();
  }

  /** Delivered connections closed because they were idle for {@code timeouts.idle}. */
  public long idleTimeoutsTotal() {
    return deliveries.values().stream().mapToLong(Delivery::idleTimeouts).sum();
  }

  /** Handoffs refused because their client address is loopback, this host or farm-internal. */
  public long untrustedClientsTotal() {
    return untrusted.get();
  }

  /** ABORTs answered ACCEPTED: the dispatcher timed out, but this node had taken the connection. */
  public long lateAbortsTotal() {
    return lateAborts.get();
  }

  public long refusedTotal() {
    return refused.get();
  }

  public HandoffServer fabric() {
    return fabric;
  }

  /** Packets the guard dropped (each one retransmitted by the client, none reset). */
  public long guardDrops() {
    try {
      return guardThread.submit(guard::droppedPackets).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      return -1;
    }
  }

  @Override
  public void close() {
    reporter.cancel(false);
    fabric.close();
    try {
      guardThread.submit(() -> {
        guard.close();
        return null;
      }).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("cannot remove the VIP guard: {}", rootMessage(e));
    } finally {
      guardThread.shutdownNow();
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && (t instanceof java.util.concurrent.ExecutionException)) t = t.getCause();
    return t.getMessage();
  }

  /** The host is not prepared for direct server return; every line says what to do. */
  public static final class HostNotReadyException extends IOException {
    private static final long serialVersionUID = 1L;
    private final List<String> problems;

    public HostNotReadyException(List<String> problems) {
      super("host not prepared for VIP traffic: " + String.join("; ", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }

}
