package io.baton.dispatcher;

import io.baton.config.BatonConfig;
import io.baton.config.MemberConfig;
import io.baton.config.PoolConfig;
import io.baton.config.Role;
import io.baton.config.RuleConfig;
import io.baton.config.VipConfig;
import io.baton.dispatcher.routing.BalanceKind;
import io.baton.dispatcher.routing.HashKey;
import io.baton.dispatcher.routing.LoadTable;
import io.baton.dispatcher.routing.Member;
import io.baton.dispatcher.routing.Pool;
import io.baton.dispatcher.routing.Router;
import io.baton.dispatcher.routing.Rule;
import io.baton.forwarding.Vip;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.linux.LinuxException;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher role of a node: listens on each VIP, reads and routes new connections, hands
 * them to servers over persistent fabric connections, and keeps the forwarding table that
 * carries the clients' later packets to their servers. Built from a {@link BatonConfig}.
 *
 * <p>Thread-safe. Connections run on the event loops of the group passed in.
 */
public final class DispatcherNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DispatcherNode.class);
  private static final String TABLE = "baton_fwd";

  private final ForwardingService forwarding;
  private final Map<String, HandoffClient> clients;
  private final LoadTable load;
  private final DispatcherStats stats = new DispatcherStats();
  private final List<Channel> listeners = new ArrayList<>();

  private DispatcherNode(ForwardingService forwarding, Map<String, HandoffClient> clients, LoadTable load) {
    this.forwarding = forwarding;
    this.clients = clients;
    this.load = load;
  }

  /**
   * Starts the dispatcher: replaces any stale forwarding table, connects to the servers (in the
   * background; a server whose fabric connection is down is skipped), and binds every VIP.
   */
  public static DispatcherNode start(BatonConfig config, EventLoopGroup group,
      HandoffCoordinator.LocalDelivery local) throws IOException {
    var node = config.node();
    var front = node.front().orElseThrow(() -> new IllegalArgumentException(
        "dispatcher " + node.name() + " needs a front interface"));
    List<Vip> vips = config.vips().stream().map(v -> new Vip(v.address(), v.port())).toList();
    ForwardingService forwarding;
    try {
      forwarding = ForwardingService.start(TABLE, front.device(), node.fabric().device(), vips,
          config.timeouts().closeGrace(), System::nanoTime);
    } catch (LinuxException e) {
      throw new IOException("cannot create the forwarding table on " + front.device() + ": " + e.getMessage(), e);
    }
    LoadTable load = new LoadTable();
    Map<String, HandoffClient> clients = new ConcurrentHashMap<>();
    DispatcherNode dispatcher = new DispatcherNode(forwarding, clients, load);
    HandoffCoordinator coordinator = new HandoffCoordinator(forwarding, clients::get, load,
        dispatcher.stats, local);
    boolean alsoServer = node.roles().contains(Role.SERVER);
    Map<String, Pool> pools = new LinkedHashMap<>();
    for (PoolConfig p : config.pools().values()) {
      List<Member> members = new ArrayList<>();
      for (MemberConfig m : p.members()) {
        boolean isLocal = alsoServer && m.node().equals(node.name()) && local != null;
        members.add(new Member(m.node(), new InetSocketAddress(m.fabricAddress(), config.cluster().handoffPort()),
            m.fabricAddress(), m.weight(), isLocal));
        if (!isLocal && !clients.containsKey(m.node())) {
          clients.put(m.node(), newClient(config, group, m, coordinator, load));
        }
      }
      BalanceKind kind = switch (p.balance()) {
        case LEAST_CONNECTIONS -> BalanceKind.LEAST_CONNECTIONS;
        case ROUND_ROBIN -> BalanceKind.WEIGHTED_ROUND_ROBIN;
        case HASH -> BalanceKind.CONSISTENT_HASH;
      };
      HashKey key = p.hashKey().map(k -> HashKey.fromConfig(k.configName())).orElse(HashKey.CLIENT_IP);
      pools.put(p.name(), Pool.create(p.name(), kind, members, load, key));
    }
    try {
      for (VipConfig v : config.vips()) {
        VipSite site = site(config, v, pools);
        dispatcher.listeners.add(bind(group, site, coordinator, dispatcher.stats));
        log.info("dispatcher {} listens on {} ({})", node.name(), site.vip(), site.mode());
      }
    } catch (IOException | RuntimeException e) {
      dispatcher.close();
      throw e;
    }
    clients.values().forEach(HandoffClient::connect);
    return dispatcher;
  }

  private static HandoffClient newClient(BatonConfig config, EventLoopGroup group, MemberConfig m,
      HandoffCoordinator coordinator, LoadTable load) {
    var address = new InetSocketAddress(m.fabricAddress(), config.cluster().handoffPort());
    return new HandoffClient(group, address, config.cluster().key(), config.node().name(),
        new HandoffClient.Listener() {
          @Override
          public void onClosed(FabricMessage.Closed closed) {
            coordinator.onClosed(closed, m.node(), m.fabricAddress());
          }

          @Override
          public void onLoadReport(FabricMessage.LoadReport report) {
            load.update(m.node(), report.activeConnections());
          }

          @Override
          public void onConnectionState(boolean up) {
            log.info("fabric connection to {} ({}) is {}", m.node(), address, up ? "up" : "down");
          }
        }, Duration.ofSeconds(2));
  }

  private static VipSite site(BatonConfig config, VipConfig v, Map<String, Pool> allPools) {
    List<Rule> rules = new ArrayList<>();
    for (RuleConfig r : v.rules()) {
      Rule.Builder b = Rule.named(r.name());
      for (RuleConfig.Condition c : r.conditions()) {
        switch (c) {
          case RuleConfig.Method m -> b.method(m.method());
          case RuleConfig.Host h -> b.host(h.pattern());
          case RuleConfig.PathPrefix p -> b.pathPrefix(p.prefix());
          case RuleConfig.Header h -> b.header(h.name(), h.value());
          case RuleConfig.Sni s -> b.sni(s.pattern());
        }
      }
      rules.add(b.toPool(r.pool()));
    }
    Map<String, Pool> pools = new HashMap<>(allPools);
    Mode mode = Mode.valueOf(v.mode().name());
    return new VipSite(new Vip(v.address(), v.port()), mode,
        new Router(rules, Optional.ofNullable(v.defaultPool())), pools,
        config.limits().maxHeadBytes(), config.timeouts().firstByte(), config.timeouts().head(),
        config.timeouts().handoff());
  }

  private static Channel bind(EventLoopGroup group, VipSite site, HandoffCoordinator coordinator,
      DispatcherStats stats) throws IOException {
    ServerBootstrap b = new ServerBootstrap()
        .group(group)
        .channel(EpollServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .option(EpollChannelOption.SO_REUSEPORT, true)
        // A node that is also a server has a guard that only lets transparent sockets see VIP
        // traffic; accepted connections inherit the flag.
        .option(EpollChannelOption.IP_TRANSPARENT, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast("first-request", new FirstRequestHandler(site, coordinator, stats));
          }
        });
    try {
      return b.bind(new InetSocketAddress(site.vip().address(), site.vip().port())).sync().channel();
    } catch (Exception e) {
      throw new IOException("cannot listen on VIP " + site.vip() + ": " + e.getMessage()
          + " (is the VIP configured on the front interface?)", e);
    }
  }

  public DispatcherStats stats() {
    return stats;
  }

  public ForwardingService forwarding() {
    return forwarding;
  }

  /** Fabric connections currently up, by server node. */
  public Map<String, Boolean> fabricState() {
    Map<String, Boolean> state = new LinkedHashMap<>();
    clients.forEach((node, c) -> state.put(node, c.isConnected()));
    return state;
  }

  /** Authentication failures seen on fabric connections to servers. */
  public long fabricAuthFailures() {
    return clients.values().stream().mapToLong(HandoffClient::authFailures).sum();
  }

  @Override
  public void close() {
    for (Channel l : listeners) l.close().awaitUninterruptibly();
    clients.values().forEach(HandoffClient::close);
    forwarding.close();
  }
}
