package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigException;
import io.baton.config.ConfigLoader;
import io.baton.config.Role;
import io.baton.dispatcher.DispatcherNode;
import io.baton.linux.LinuxProbe;
import io.baton.server.ServerAgent;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs a node's roles from its config file until the process is told to stop (SIGINT/SIGTERM):
 * the server agent first (so a node that also dispatches can serve itself), then the
 * dispatcher. Everything is closed in reverse order on the way out.
 *
 * <p>Confined to the thread that calls {@link #run}.
 */
final class NodeRunner {
  private NodeRunner() {}

  static int run(Path configFile, Role required, PrintWriter out, int threads) throws Exception {
    BatonConfig config;
    try {
      config = ConfigLoader.load(configFile);
    } catch (ConfigException e) {
      throw new ConfigFailure(e.getMessage(), e);
    }
    if (!config.node().roles().contains(required)) {
      throw new ConfigFailure(configFile + ": node " + config.node().name() + " does not have the role "
          + required.name().toLowerCase(java.util.Locale.ROOT) + " (node.roles is " + config.node().roles() + ")", null);
    }
    List<String> problems = LinuxProbe.problems();
    if (!problems.isEmpty()) throw new HostNotReadyException("host not ready: " + String.join("; ", problems));

    EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    ServerAgent server = null;
    DispatcherNode dispatcher = null;
    io.baton.admin.MetricsEndpoint metrics = null;
    CountDownLatch stop = new CountDownLatch(1);
    Thread hook = new Thread(stop::countDown, "baton-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      if (config.node().roles().contains(Role.SERVER)) {
        try {
          server = ServerAgent.start(config, group);
        } catch (ServerAgent.HostNotReadyException e) {
          throw new HostNotReadyException(e.getMessage(), e);
        }
      }
      if (config.node().roles().contains(Role.DISPATCHER)) {
        dispatcher = DispatcherNode.start(config, group, server == null ? null : server.localDelivery()::serve);
      }
      if (config.metrics().isPresent()) {
        metrics = io.baton.admin.MetricsEndpoint.start(config.metrics().get().listen(), dispatcher, server);
      }
      out.println("baton node " + config.node().name() + " running " + config.node().roles()
          + " (config " + configFile + "); stop with SIGTERM or Ctrl-C");
      out.flush();
      stop.await();
      return ExitCode.OK;
    } finally {
      if (metrics != null) metrics.close();
      if (dispatcher != null) dispatcher.close();
      if (server != null) server.close();
      group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is already exiting through the hook
      }
    }
  }

  /** The config file is wrong; the message is the loader's one line. */
  static final class ConfigFailure extends CommandFailure {
    private static final long serialVersionUID = 1L;

    ConfigFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
