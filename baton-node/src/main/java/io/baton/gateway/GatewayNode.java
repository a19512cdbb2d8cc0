package io.baton.gateway;

import io.baton.config.GatewayConfig;
import io.baton.gateway.registration.Registration;
import io.baton.gateway.registration.RegistrationDaemon;
import io.baton.gateway.registration.RegistrationSeal;
import io.baton.gateway.registration.RegistrationTable;
import io.baton.gateway.wan.Trunk;
import io.baton.gateway.wan.TrunkAcceptor;
import io.baton.gateway.wan.TrunkCounters;
import io.baton.gateway.wan.TrunkDialer;
import io.baton.gateway.wan.TrunkHello;
import io.baton.gateway.wan.TrunkStream;
import io.baton.linux.LinuxException;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway: the registration daemon and table, the interception rules, the transparent
 * listener for intercepted LAN connections (near side: each becomes a stream on the trunk of its
 * registration), and the tunnel listener for peers' trunks (far side: each stream becomes a
 * connection to its destination, if this gateway serves it).
 *
 * <p>Every channel, trunk and stream lives on one event loop; {@link #start} and {@link #close} are
 * called from the thread that runs the node.
 */
public final class GatewayNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GatewayNode.class);
  private static final long SWEEP_MS = 1_000;

  private final GatewayConfig config;
  private final EventLoop loop;
  private final Clock clock;
  private final Interception interception;
  private final RegistrationTable table;
  private final TrunkDialer dialer;
  private final TrunkAcceptor acceptor;

  /** Near-side trunks by {@link Registration#trunkKey()}; confined to the loop. */
  private final Map<String, Trunk> trunks = new HashMap<>();

  private final List<Channel> listeners = new ArrayList<>();

  /**
   * Chained hops in the making, by the local port of the loopback connection that carries each into
   * this gateway's own interception: the destination it stands for. Confined to the loop.
   */
  private final Map<Integer, InetSocketAddress> chained = new HashMap<>();

  private final byte[] registrationKey;
  private final TrunkCounters counters = new TrunkCounters();
  private final java.util.concurrent.atomic.LongAdder intercepted =
      new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder refusedUnregistered =
      new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder refusedNotServed =
      new java.util.concurrent.atomic.LongAdder();
  private RegistrationDaemon daemon;
  private ScheduledFuture<?> sweeper;

  private GatewayNode(
      GatewayConfig config,
      EventLoop loop,
      Clock clock,
      Interception interception,
      byte[] clusterKey) {
    this.config = config;
    this.loop = loop;
    this.clock = clock;
    this.interception = interception;
    this.table = new RegistrationTable(clock, interception::update);
    TrunkHello hello = new TrunkHello(GatewayKeys.tunnelKey(clusterKey));
    this.dialer = new TrunkDialer(loop, hello, config.wan().address(), clock, counters);
    this.acceptor = new TrunkAcceptor(hello, this::openOutbound, clock, counters);
    this.registrationKey = GatewayKeys.registrationKey(clusterKey);
  }

  /**
   * Checks (or prepares) the host, installs the interception table and starts the listeners and the
   * daemon. Throws with a message for the operator if anything is missing.
   */
  public static GatewayNode start(
      GatewayConfig config, byte[] clusterKey, EventLoop loop, Clock clock)
      throws IOException, LinuxException, InterruptedException {
    if (config.applyHostPreparation()) {
      GatewayHost.apply();
    } else {
      List<String> problems = GatewayHost.problems();
      if (!problems.isEmpty()) {
        throw new IOException(
            "host not ready for a gateway: "
                + String.join("; ", problems)
                + " (or set gateway.apply-host-preparation: true)");
      }
    }
    Interception interception = Interception.install(config.interceptPort());
    GatewayNode node = new GatewayNode(config, loop, clock, interception, clusterKey);
    try {
      node.listen();
    } catch (IOException | RuntimeException e) {
      node.close();
      throw e;
    }
    return node;
  }

  private void listen() throws IOException, InterruptedException {
    listeners.add(
        bind(
            "intercept listener",
            new InetSocketAddress("0.0.0.0", config.interceptPort()),
            true,
            new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                ch.pipeline().addLast("intercepted", new Intercepted());
              }
            }));
    listeners.add(
        bind(
            "tunnel listener",
            new InetSocketAddress(config.wan().address(), config.tunnelPort()),
            false,
            acceptor));
    daemon =
        new RegistrationDaemon(
            config.registrationListen(),
            table,
            new RegistrationSeal(registrationKey),
            clock,
            config.maxRegistrationTtl(),
            GatewayNode::availableCongestionControl,
            this::streamsOnLoop);
    sweeper = loop.scheduleAtFixedRate(this::sweep, SWEEP_MS, SWEEP_MS, TimeUnit.MILLISECONDS);
    LOG.info(
        "gateway up: LAN {} ({}), WAN {} ({}), registrations on {}, tunnel port {}, serves {}",
        config.lan().address().getHostAddress(),
        config.lan().device(),
        config.wan().address().getHostAddress(),
        config.wan().device(),
        config.registrationListen(),
        config.tunnelPort(),
        config.serves());
  }

  private Channel bind(
      String what,
      InetSocketAddress address,
      boolean transparent,
      ChannelInitializer<Channel> child)
      throws IOException, InterruptedException {
    ServerBootstrap b =
        new ServerBootstrap()
            .group(loop, loop)
            .channelFactory(() -> new EpollServerSocketChannel(SocketProtocolFamily.INET))
            .option(ChannelOption.SO_BACKLOG, 1024)
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(EpollChannelOption.IP_TRANSPARENT, transparent)
            .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
            .childOption(ChannelOption.AUTO_READ, !transparent)
            .childHandler(child);
    try {
      return b.bind(address).sync().channel();
    } catch (Exception e) {
      throw new IOException(
          what
              + " cannot listen on "
              + address.getAddress().getHostAddress()
              + ":"
              + address.getPort()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** Near side: an intercepted LAN connection; its local address is the remote server's. */
  private final class Intercepted extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      Channel ch = ctx.channel();
      ctx.pipeline().remove(this);
      InetSocketAddress destination = (InetSocketAddress) ch.localAddress();
      InetSocketAddress client = (InetSocketAddress) ch.remoteAddress();
      if (client.getAddress().isLoopbackAddress()) {
        InetSocketAddress next = chained.remove(client.getPort());
        if (next != null) destination = next;
      }
      Optional<Registration> registration =
          table.lookup(destination.getAddress(), destination.getPort());
      if (registration.isEmpty()) {
        refusedUnregistered.increment();
        LOG.info(
            "connection from {} to {} refused: not registered (or the registration lapsed)",
            client,
            destination);
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
        ch.close();
        return;
      }
      Registration r = registration.get();
      intercepted.increment();
      Trunk trunk = trunks.get(r.trunkKey());
      if (trunk == null || trunk.isFailed()) {
        trunk = dialer.dial(r.peer(), r.params(), t -> trunks.remove(r.trunkKey(), t));
        trunks.put(r.trunkKey(), trunk);
        LOG.info("dialing {} for {}: {}", trunk, destination, r.params());
      }
      trunk.open(ch, destination, client);
    }
  }

  /** Far side: a stream a peer opened; connect to its destination if this gateway serves it. */
  private void openOutbound(
      TrunkStream stream, InetSocketAddress destination, InetSocketAddress client) {
    if (table.lookup(destination.getAddress(), destination.getPort()).isPresent()) {
      chain(stream, destination);
      return;
    }
    if (!(destination.getAddress() instanceof Inet4Address v4) || !config.serves(v4)) {
      refusedNotServed.increment();
      LOG.warn(
          "stream {} from {} to {} refused: not among the destinations this gateway serves {}",
          stream.id(),
          client,
          destination,
          config.serves());
      stream.abort("destination " + destination + " is not served by this gateway", true);
      return;
    }
    new Bootstrap()
        .group(loop)
        .channelFactory(() -> new EpollSocketChannel(SocketProtocolFamily.INET))
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
        .handler(new ChannelInboundHandlerAdapter())
        .connect(destination)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (!f.isSuccess()) {
                    LOG.info(
                        "stream {} to {}: connect failed: {}",
                        stream.id(),
                        destination,
                        f.cause().getMessage());
                    stream.abort(
                        "connect to " + destination + " failed: " + f.cause().getMessage(), true);
                    return;
                  }
                  if (stream.isClosed()) {
                    f.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                    f.channel().close();
                    return;
                  }
                  stream.attach(f.channel());
                });
  }

  /**
   * Hop by hop: a stream whose destination is registered here too goes on to the next gateway. It
   * enters this gateway's own interception over loopback (remembered by its local port, bound
   * before the connect so the listener cannot see it first), where it becomes a stream on the trunk
   * of that registration like any LAN client's connection.
   */
  private void chain(TrunkStream stream, InetSocketAddress destination) {
    Bootstrap b =
        new Bootstrap()
            .group(loop)
            .channelFactory(() -> new EpollSocketChannel(SocketProtocolFamily.INET))
            .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
            .option(ChannelOption.AUTO_READ, false)
            .handler(new ChannelInboundHandlerAdapter());
    b.bind(new InetSocketAddress("127.0.0.1", 0))
        .addListener(
            (ChannelFutureListener)
                bound -> {
                  if (!bound.isSuccess()) {
                    stream.abort(
                        "chaining to " + destination + " failed: " + bound.cause().getMessage(),
                        true);
                    return;
                  }
                  Channel ch = bound.channel();
                  int port = ((InetSocketAddress) ch.localAddress()).getPort();
                  chained.put(port, destination);
                  ch.connect(new InetSocketAddress("127.0.0.1", config.interceptPort()))
                      .addListener(
                          (ChannelFutureListener)
                              f -> {
                                if (!f.isSuccess()) {
                                  chained.remove(port);
                                  stream.abort(
                                      "chaining to "
                                          + destination
                                          + " failed: "
                                          + f.cause().getMessage(),
                                      true);
                                  return;
                                }
                                if (stream.isClosed()) {
                                  ch.config().setOption(ChannelOption.SO_LINGER, 0);
                                  ch.close();
                                  return;
                                }
                                LOG.debug(
                                    "stream {} to {} chained to the next gateway",
                                    stream.id(),
                                    destination);
                                stream.attach(ch);
                              });
                });
  }

  /** Drops lapsed registrations and the idle trunks no registration uses any more. */
  private void sweep() {
    for (Registration gone : table.expire()) {
      LOG.info("registration of {} lapsed", gone.remote().getHostAddress());
    }
    Set<String> live = new LinkedHashSet<>();
    table.list().forEach(r -> live.add(r.trunkKey()));
    for (Map.Entry<String, Trunk> e : List.copyOf(trunks.entrySet())) {
      if (e.getValue().openStreams() == 0 && !live.contains(e.getKey())) e.getValue().closeIdle();
    }
  }

  /** The port conversion table: every stream, both sides, with its ports (runs on the loop). */
  private List<Map<String, Object>> streamsOnLoop() {
    try {
      return loop.submit(
              () -> {
                List<Map<String, Object>> rows = new ArrayList<>();
                trunks.values().forEach(t -> describe(t, "near", rows));
                acceptor.trunks().forEach(t -> describe(t, "far", rows));
                return rows;
              })
          .get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      return List.of(Map.of("error", "event loop busy: " + e));
    }
  }

  private static void describe(Trunk t, String side, List<Map<String, Object>> rows) {
    for (TrunkStream s : t.streams()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("side", side);
      m.put("trunk", t.idText());
      m.put("peer", t.peer());
      m.put("stream", s.id());
      Channel local = s.local();
      m.put("local", local == null ? "(connecting)" : String.valueOf(local.remoteAddress()));
      m.put("via", local == null ? "" : String.valueOf(local.localAddress()));
      m.put("bytesToWan", s.sentBytes());
      m.put("bytesFromWan", s.receivedBytes());
      m.put("ageMs", s.ageMs());
      rows.add(m);
    }
  }

  /** The names in {@code net.ipv4.tcp_available_congestion_control}. */
  static Set<String> availableCongestionControl() {
    try {
      return new LinkedHashSet<>(
          List.of(
              Files.readString(Path.of("/proc/sys/net/ipv4/tcp_available_congestion_control"))
                  .strip()
                  .split("\\s+")));
    } catch (IOException e) {
      return Set.of("cubic");
    }
  }

  /** The trunks' counters, for metrics. */
  public TrunkCounters counters() {
    return counters;
  }

  /** LAN connections intercepted and carried (near side). */
  public long intercepted() {
    return intercepted.sum();
  }

  /**
   * Intercepted connections closed because no live registration covered them (one lapsed in
   * between).
   */
  public long refusedUnregistered() {
    return refusedUnregistered.sum();
  }

  /** Streams refused because their destination is not among {@code serves} (far side). */
  public long refusedNotServed() {
    return refusedNotServed.sum();
  }

  public RegistrationTable table() {
    return table;
  }

  @Override
  public void close() {
    if (sweeper != null) sweeper.cancel(false);
    if (daemon != null) daemon.close();
    for (Channel l : listeners) l.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    try {
      loop.submit(
              () -> {
                List.copyOf(trunks.values()).forEach(t -> t.fail("gateway stopping"));
                acceptor.trunks().forEach(t -> t.fail("gateway stopping"));
              })
          .get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("closing the trunks: {}", e.toString());
    }
    interception.close();
  }
}
