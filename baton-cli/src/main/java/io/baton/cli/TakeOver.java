package io.baton.cli;

import io.baton.config.BatonConfig;
import io.baton.dataplane.ForwardingTableLock;
import io.baton.dataplane.HostPreparation;
import io.baton.dispatcher.DispatcherNode;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A planned dispatcher reload ({@code baton dispatcher --config FILE --take-over}): the new process
 * binds the VIPs' listeners beside the running one's (SO_REUSEPORT) without accepting, asks the
 * running process to stop (SIGTERM), and waits for it to exit. The old process closes its listeners
 * first — with {@code net.ipv4.tcp_migrate_req} on, the connections queued there move to the new
 * listeners rather than being reset — then finishes the connections it is reading and the handoffs
 * under way, and lets go of the forwarding table, whose entries keep forwarding throughout. The new
 * process then adopts the table and starts accepting: connection attempts meanwhile wait in the new
 * listeners' backlog, none is refused.
 */
final class TakeOver {
  private static final Logger log = LoggerFactory.getLogger(TakeOver.class);

  /**
   * How long the old process may take: its drain is bounded by its own first-request and handoff
   * timeouts.
   */
  static final Duration OLD_PROCESS_LIMIT = Duration.ofSeconds(60);

  private TakeOver() {}

  static DispatcherNode.PausedListeners fromRunningDispatcher(
      BatonConfig config, EventLoopGroup group, PrintWriter out) throws Exception {
    for (String change : HostPreparation.enableListenerQueueMigration()) {
      log.info(
          "--take-over: {} (the running dispatcher's queued connections move to this process's listeners)",
          change);
    }
    OptionalLong old = ForwardingTableLock.holder(DispatcherNode.TABLE);
    DispatcherNode.PausedListeners paused = DispatcherNode.PausedListeners.bind(config, group);
    if (old.isEmpty()) {
      log.info("--take-over: no dispatcher runs in this network namespace; starting as usual");
      return paused;
    }
    long pid = old.getAsLong();
    var handle = ProcessHandle.of(pid);
    if (handle.isEmpty()) return paused;
    if (config.announce().isPresent()) {
      // Its BIRD is killed instead of withdrawing the VIPs; ours starts in graceful-restart
      // recovery.
      io.baton.announce.BirdBgp.markTakeOver(config.node().name(), NodeRunner.RUN_DIR);
    }
    out.println("taking over from dispatcher pid " + pid + ": asking it to stop (SIGTERM)");
    out.flush();
    // Under systemd (Type=notify, NotifyAccess=all) the service is this process from now on.
    Successor.notifySystemd("MAINPID=" + ProcessHandle.current().pid());
    long t0 = System.nanoTime();
    handle.get().destroy();
    try {
      handle
          .get()
          .onExit()
          .get(OLD_PROCESS_LIMIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      paused.close();
      throw new IOException(
          "--take-over: dispatcher pid "
              + pid
              + " did not exit within "
              + OLD_PROCESS_LIMIT.toSeconds()
              + " s of SIGTERM; it still holds the forwarding table",
          e);
    }
    log.info(
        "--take-over: dispatcher pid {} exited {} ms after SIGTERM; taking its table",
        pid,
        (System.nanoTime() - t0) / 1_000_000);
    return paused;
  }
}
