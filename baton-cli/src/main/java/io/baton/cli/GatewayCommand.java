package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import io.baton.config.GatewayConfig;
import io.baton.config.Role;
import io.baton.gateway.GatewayNode;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code baton gateway --config FILE}: runs a WAN gateway until SIGTERM. */
@Command(
    name = "gateway",
    mixinStandardHelpOptions = true,
    description = {
      "Run a split-TCP WAN gateway until SIGTERM: the registration daemon, transparent interception of",
      "LAN connections to registered remote servers, and trunks to peer gateways (config section gateway)."
    })
final class GatewayCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = {"-c", "--config"},
      required = true,
      paramLabel = "FILE",
      description = "Node config (YAML) with role gateway.")
  Path config;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    BatonConfig loaded;
    try {
      loaded = ConfigLoader.load(config);
    } catch (ConfigException e) {
      throw new NodeRunner.ConfigFailure(e.getMessage(), e);
    }
    if (!loaded.node().hasRole(Role.GATEWAY)) {
      throw new NodeRunner.ConfigFailure(
          config
              + ": node "
              + loaded.node().name()
              + " does not have the role gateway (node.roles is "
              + loaded.node().rolesText()
              + ")",
          null);
    }
    GatewayConfig gateway = loaded.gateway().orElseThrow();
    // One event loop owns every channel, trunk and stream (see io.baton.gateway).
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              stop.countDown();
              try {
                stopped.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "baton-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    GatewayNode node = null;
    io.baton.admin.MetricsEndpoint metrics = null;
    try {
      try {
        node = GatewayNode.start(gateway, loaded.cluster().key(), group.next(), Clock.systemUTC());
      } catch (IOException e) {
        throw new HostNotReadyException(e.getMessage(), e);
      }
      if (loaded.metrics().isPresent()) {
        metrics =
            io.baton.admin.MetricsEndpoint.startGateway(loaded.metrics().get().listen(), node);
      }
      out.println(
          "baton gateway "
              + loaded.node().name()
              + ": LAN "
              + gateway.lan().address().getHostAddress()
              + ", WAN "
              + gateway.wan().address().getHostAddress()
              + ", registrations on "
              + gateway.registrationListen().getAddress().getHostAddress()
              + ":"
              + gateway.registrationListen().getPort()
              + ", tunnel port "
              + gateway.tunnelPort()
              + "; up");
      out.flush();
      Successor.notifySystemd("READY=1\nSTATUS=gateway " + loaded.node().name() + " up");
      stop.await();
      Successor.notifySystemd("STOPPING=1");
      return 0;
    } finally {
      if (metrics != null) metrics.close();
      if (node != null) node.close();
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
      stopped.countDown();
    }
  }
}
