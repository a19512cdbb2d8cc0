package io.baton.dispatcher;

import io.baton.dataplane.ForwardingService;
import io.baton.handoff.FabricMessage;
import io.baton.routing.LoadTable;
import io.baton.routing.PickContext;
import io.baton.routing.Pool;
import io.netty.channel.Channel;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a {@link HandoffMachine} for every routed connection and settles what servers report about
 * the connections they own (CLOSED). Holds what all machines share: the fabric, the forwarding
 * table, the transplanter, the clock, the timeouts and the counters.
 *
 * <p>Thread-safe: each machine runs on its connection's event loop; the parts are thread-safe.
 */
public final class HandoffCoordinator {
  private static final Logger log = LoggerFactory.getLogger(HandoffCoordinator.class);

  /** What every machine shares. Immutable; the parts are thread-safe. */
  record Context(
      FabricPort fabric,
      ForwardingPort forwarding,
      Transplanter transplanter,
      LoadTable load,
      DispatcherStats stats,
      LongSupplier nanoClock,
      long installTimeoutNs,
      long abortTimeoutNs,
      ServerEligibility eligibility) {}

  /**
   * Serves a connection on this node when the chosen member is the dispatcher itself (peer mode).
   */
  public interface LocalService {
    /** See {@code io.baton.server.LocalDelivery#serve}: same contract. */
    boolean serve(Channel ch, byte[] consumed, io.baton.dataplane.Vip vip);
  }

  /** How long the forwarding table may take for one change before the handoff gives up. */
  static final Duration INSTALL_TIMEOUT = Duration.ofSeconds(1);

  private final Context cx;
  private final LoopBatchedForwarding forwarding;

  HandoffCoordinator(
      FabricPort fabric,
      ForwardingService forwarding,
      Transplanter transplanter,
      LoadTable load,
      DispatcherStats stats,
      LongSupplier nanoClock,
      Duration abortTimeout,
      ServerEligibility eligibility) {
    this.forwarding = new LoopBatchedForwarding(forwarding);
    this.cx =
        new Context(
            fabric,
            this.forwarding,
            transplanter,
            load,
            stats,
            nanoClock,
            INSTALL_TIMEOUT.toNanos(),
            abortTimeout.toNanos(),
            eligibility);
  }

  /** Commits the forwarding changes every event loop holds back (see LoopBatchedForwarding). */
  void flushForwarding(Duration limit) {
    forwarding.flush(limit);
  }

  /** Starts the handoff of {@code client}; call on its event loop, with its reading stopped. */
  void handOff(
      ClientSide client,
      VipSite site,
      Optional<String> poolName,
      PickContext pick,
      String summary) {
    Optional<Pool> pool = poolName.map(site::pool);
    if (pool.isEmpty()) {
      HandoffMachine.unavailableLog.info(
          "{}: answering itself: no pool is configured for this request ({})",
          client.flow(),
          summary);
      if (client.answerUnavailable()) {
        cx.stats().answered503.increment();
      } else {
        cx.stats().closedUnavailable.increment();
      }
      return;
    }
    new HandoffMachine(
            cx,
            client,
            cx.stats().forVip(site.vip()),
            site.handoffTimeout().toNanos(),
            pool.get(),
            pick,
            summary)
        .start();
  }

  /**
   * Server {@code node} at {@code server} reported {@code closed}: its entry goes after the grace
   * period, if that handoff still owns it (a CLOSED from a node that does not own the connection
   * changes nothing).
   */
  void onClosed(FabricMessage.Closed closed, String node, InetAddress server) {
    forwarding
        .retire(closed.flow(), server, closed.handoffId())
        .whenComplete(
            (matched, error) -> {
              if (error == null && Boolean.TRUE.equals(matched)) {
                cx.load().decrement(node);
              } else if (error == null) {
                cx.stats().staleCloses.increment();
                log.debug(
                    "{}: CLOSED from {} for handoff {} does not own the entry; ignored",
                    closed.flow(),
                    node,
                    closed.handoffId());
              }
            });
  }
}
