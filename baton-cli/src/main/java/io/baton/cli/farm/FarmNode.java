package io.baton.cli.farm;

import io.baton.config.BatonConfig;
import io.baton.config.Role;
import io.baton.dispatcher.DispatcherNode;
import io.baton.lab.Host;
import io.baton.server.ServerAgent;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Baton node of a lab farm, run inside this JVM but entirely inside its host's network
 * namespace: its event loop threads are started from the host's namespace thread, and new threads
 * inherit the namespace of the thread that creates them, so every socket, nftables context and
 * /proc/sys access of the node is the namespace's.
 *
 * <p>Thread-safe for {@link #close}; the accessors may be read from any thread.
 */
public final class FarmNode implements AutoCloseable {
  private final String name;
  private final Host host;
  private final EventLoopGroup group;
  private final ServerAgent server;
  private final DispatcherNode dispatcher;
  private final io.baton.admin.MetricsEndpoint metrics;
  private io.baton.admin.AdminEndpoint admin;
  private String statsToken;

  private FarmNode(
      String name,
      Host host,
      EventLoopGroup group,
      ServerAgent server,
      DispatcherNode dispatcher,
      io.baton.admin.MetricsEndpoint metrics) {
    this.metrics = metrics;
    this.name = name;
    this.host = host;
    this.group = group;
    this.server = server;
    this.dispatcher = dispatcher;
  }

  /** Starts the roles of {@code config} on {@code host}'s namespace thread. */
  public static FarmNode start(Host host, BatonConfig config, int threads) throws Exception {
    return host.call(
        () -> {
          EventLoopGroup group =
              new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
          // Start every event loop thread now, from this namespace thread, so they inherit it.
          List<io.netty.util.concurrent.Future<?>> started = new ArrayList<>();
          group.forEach(loop -> started.add(loop.submit(() -> {})));
          for (var f : started) f.syncUninterruptibly();
          ServerAgent server = null;
          DispatcherNode dispatcher = null;
          try {
            if (config.node().roles().contains(Role.SERVER))
              server = ServerAgent.start(config, group);
            if (config.node().roles().contains(Role.DISPATCHER)) {
              dispatcher =
                  DispatcherNode.start(
                      config, group, server == null ? null : server.localDelivery()::serve);
            }
          } catch (Exception | Error e) {
            if (server != null) server.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
          }
          io.baton.admin.MetricsEndpoint metrics = null;
          if (config.metrics().isPresent()) {
            metrics =
                io.baton.admin.MetricsEndpoint.start(
                    config.metrics().get().listen(), dispatcher, server);
          }
          FarmNode node =
              new FarmNode(config.node().name(), host, group, server, dispatcher, metrics);
          if (config.admin().enabled()) {
            // In this namespace, like baton ctl's endpoint of a real node (loopback by default).
            node.admin =
                io.baton.admin.AdminEndpoint.start(
                        config.admin().listen(),
                        config.cluster().key(),
                        config.node().name(),
                        server,
                        null)
                    .dispatcher(dispatcher);
            node.statsToken = io.baton.admin.AdminToken.of(config.cluster().key());
            node.statsAddress = config.admin().listen();
          }
          return node;
        });
  }

  /**
   * Also serves {@code app} on a plain listener at {@code address}, inside this node's namespace,
   * without Baton: the baseline that benchmarks compare handoffs with.
   */
  public void listenDirect(
      java.net.InetSocketAddress address,
      io.netty.channel.ChannelInitializer<io.netty.channel.Channel> app)
      throws Exception {
    host.call(
        () ->
            new io.netty.bootstrap.ServerBootstrap()
                .group(group)
                .channel(io.netty.channel.epoll.EpollServerSocketChannel.class)
                .option(io.netty.channel.ChannelOption.SO_BACKLOG, 1024)
                .childOption(io.netty.channel.ChannelOption.TCP_NODELAY, true)
                .childHandler(app)
                .bind(address)
                .sync()
                .channel());
  }

  public String name() {
    return name;
  }

  public Host host() {
    return host;
  }

  public ServerAgent server() {
    return server;
  }

  public DispatcherNode dispatcher() {
    return dispatcher;
  }

  private java.net.InetSocketAddress statsAddress;

  /**
   * The node's live stats page (inside its namespace), token included; null when its admin endpoint
   * is off.
   */
  public String statsUrl() {
    if (admin == null) return null;
    return "http://"
        + statsAddress.getAddress().getHostAddress()
        + ":"
        + statsAddress.getPort()
        + "/stats?token="
        + statsToken;
  }

  @Override
  public void close() {
    if (admin != null) admin.close();
    if (metrics != null) metrics.close();
    if (dispatcher != null) dispatcher.close();
    if (server != null) server.close();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }
}
