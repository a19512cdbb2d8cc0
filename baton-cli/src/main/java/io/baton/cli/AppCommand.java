package io.baton.cli;

import io.baton.app.SampleApp;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code baton app --root DIR --listen IP:PORT}: Baton's sample app on a plain listener, without
 * any handoff: the "direct-app" baseline that {@code baton bench} compares the embedded delivery
 * with. Runs until SIGTERM or Ctrl-C.
 *
 * <p>Confined to the thread that runs the command.
 */
@Command(
    name = "app",
    mixinStandardHelpOptions = true,
    description =
        "Serve Baton's sample app (static files under --root) on a plain listener until SIGTERM:"
            + " the direct baseline of the benchmarks.")
final class AppCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--root",
      required = true,
      paramLabel = "DIR",
      description = "Directory whose files are served.")
  Path root;

  @Option(
      names = "--listen",
      required = true,
      paramLabel = "IP:PORT",
      description = "IPv4 address and port to listen on.")
  String listen;

  @Option(
      names = "--name",
      defaultValue = "app",
      description = "What GET /whoami answers (default: ${DEFAULT-VALUE}).")
  String name;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "Event loop threads (0: one per core).")
  int threads;

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = parseListen();
    if (!Files.isDirectory(root)) {
      throw new ParameterException(spec.commandLine(), "--root " + root + " is not a directory");
    }
    if (threads < 0)
      throw new ParameterException(spec.commandLine(), "--threads must be 0 or more");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    CountDownLatch stop = new CountDownLatch(1);
    Thread hook = new Thread(stop::countDown, "baton-app-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      Channel listener;
      try {
        listener = new SampleApp(root, name).listen(group, address);
      } catch (Exception e) {
        throw new CommandFailure("cannot listen on " + listen + ": " + e.getMessage(), e);
      }
      var out = spec.commandLine().getOut();
      out.println(
          "sample app "
              + name
              + " serving "
              + root
              + " on "
              + listen
              + "; stop with SIGTERM or Ctrl-C");
      out.flush();
      stop.await();
      listener.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      return ExitCode.OK;
    } finally {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is already exiting through the hook
      }
    }
  }

  /** IPv4 literal and port; never resolves a name. */
  private InetSocketAddress parseListen() {
    int colon = listen.lastIndexOf(':');
    try {
      if (colon < 1) throw new IllegalArgumentException("no port");
      int port = Integer.parseInt(listen.substring(colon + 1));
      if (port < 1 || port > 65535) throw new IllegalArgumentException("port out of range");
      return new InetSocketAddress(InetAddress.ofLiteral(listen.substring(0, colon)), port);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(
          spec.commandLine(),
          "--listen must be IPv4:PORT like 198.18.0.11:8090, got '" + listen + "'");
    }
  }
}
