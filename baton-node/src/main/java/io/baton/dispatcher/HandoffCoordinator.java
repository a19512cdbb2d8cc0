package io.baton.dispatcher;

import io.baton.dispatcher.routing.LoadTable;
import io.baton.dispatcher.routing.Member;
import io.baton.dispatcher.routing.PickContext;
import io.baton.dispatcher.routing.Pool;
import io.baton.handoff.FabricMessage;
import io.baton.handoff.HandoffClient;
import io.baton.handoff.HandoffReply;
import io.baton.transplant.ConnectionExporter;
import io.baton.transplant.ConnectionState;
import io.baton.transplant.ConnectionStateCodec;
import io.baton.transplant.FlowKey;
import io.baton.transplant.TransplantException;
import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the handoff sequence of docs/design.md for one routed connection: pick a server, freeze
 * the socket, one nftables batch (drop our output on the flow, forward the client's packets to
 * the server), export, send HANDOFF; on ACCEPTED close our copy silently; on REFUSED, timeout or
 * a lost fabric connection take the connection back (cancel the entries, resume the socket) and
 * try the next candidate; when none is left answer the client ourselves (503 in http mode, a
 * close otherwise). The client is never left hanging and never reset.
 *
 * <p>Thread-safe: each handoff runs on its channel's event loop; futures of the forwarding
 * thread and the fabric hop back to it.
 */
public final class HandoffCoordinator {
  private static final Logger log = LoggerFactory.getLogger(HandoffCoordinator.class);

  private final ForwardingService forwarding;
  private final Function<String, HandoffClient> clients;
  private final LoadTable load;
  private final DispatcherStats stats;
  private final LocalDelivery local;

  /** Serves a connection on this node when the chosen member is the dispatcher itself (peer mode). */
  public interface LocalDelivery {
    /**
     * Takes over {@code ch}, whose first {@code consumed} bytes were already read; false when
     * this node serves nothing on the VIP's port (the dispatcher then tries the next member).
     */
    boolean serve(Channel ch, byte[] consumed, VipSite site);
  }

  public HandoffCoordinator(ForwardingService forwarding, Function<String, HandoffClient> clients,
      LoadTable load, DispatcherStats stats, LocalDelivery local) {
    this.forwarding = forwarding;
    this.clients = clients;
    this.load = load;
    this.stats = stats;
    this.local = local;
  }

  /** Starts the handoff of {@code ch}; call on its event loop with auto-read off. */
  void handOff(Channel ch, VipSite site, byte[] consumed, Optional<String> poolName, PickContext pick,
      String summary) {
    Optional<Pool> pool = poolName.map(site.pools()::get);
    if (pool.isEmpty()) {
      giveUp(ch, site, "no pool is configured for this request (" + summary + ")");
      return;
    }
    new Attempt(ch, site, consumed, pool.get(), pick, summary).next();
  }

  /** One connection's way through the candidates. Confined to the channel's event loop. */
  private final class Attempt {
    private final Channel ch;
    private final VipSite site;
    private final byte[] consumed;
    private final Pool pool;
    private final PickContext pick;
    private final String summary;
    private final Set<String> tried = new HashSet<>();
    private long startNs;
    private long nftDoneNs;
    private long sentNs;
    private long handoffId; // this attempt's: the token of its forwarding entry
    private final int fd;
    private final FlowKey flow;

    Attempt(Channel ch, VipSite site, byte[] consumed, Pool pool, PickContext pick, String summary) {
      this.ch = ch;
      this.site = site;
      this.consumed = consumed;
      this.pool = pool;
      this.pick = pick;
      this.summary = summary;
      this.fd = ((EpollSocketChannel) ch).fd().intValue();
      this.flow = FlowKey.of((InetSocketAddress) ch.remoteAddress(), (InetSocketAddress) ch.localAddress());
    }

    void next() {
      if (!ch.isActive()) {
        stats.clientGone.increment();
        return;
      }
      Optional<Member> candidate = pool.pick(pick, tried);
      if (candidate.isEmpty()) {
        giveUp(ch, site, tried.isEmpty()
            ? "pool " + pool.name() + " has no member to serve " + summary
            : "no server of pool " + pool.name() + " took the connection (tried " + tried + ")");
        return;
      }
      Member member = candidate.get();
      tried.add(member.node());
      if (member.local()) {
        if (local.serve(ch, consumed, site)) {
          stats.servedLocally.increment();
        } else {
          next();
        }
        return;
      }
      HandoffClient client = clients.apply(member.node());
      if (client == null || !client.isConnected()) {
        log.debug("{}: skipping {}: fabric connection is down", flow, member.node());
        next();
        return;
      }
      ConnectionExporter.Frozen frozen;
      handoffId = client.nextHandoffId();
      startNs = System.nanoTime();
      try {
        frozen = ConnectionExporter.freeze(fd);
      } catch (TransplantException e) {
        // Typically the client already half-closed; nothing was changed.
        giveUp(ch, site, e.getMessage());
        return;
      }
      forwarding.freezeAndForward(flow, member.fabricAddress(), handoffId).whenComplete((ok, error) ->
          ch.eventLoop().execute(() -> {
            if (error != null) {
              log.warn("{}: cannot install forwarding to {}: {}", flow, member.node(), error.getMessage());
              takeBack(frozen, member, "forwarding entry failed");
            } else {
              nftDoneNs = System.nanoTime();
              exportAndSend(frozen, member, client);
            }
          }));
    }

    private void exportAndSend(ConnectionExporter.Frozen frozen, Member member, HandoffClient client) {
      ConnectionState state;
      try {
        state = frozen.export(consumed);
      } catch (TransplantException e) {
        log.warn("{}: export failed: {}", flow, e.getMessage());
        takeBack(frozen, member, "export failed");
        return;
      }
      var handoff = new FabricMessage.Handoff(handoffId, ConnectionStateCodec.encode(state),
          site.vip().toString(), pool.name(), summary);
      sentNs = System.nanoTime();
      CompletableFuture<HandoffReply> reply = client.send(handoff, site.handoffTimeout());
      reply.whenComplete((answer, error) -> ch.eventLoop().execute(() -> {
        if (error == null && answer instanceof FabricMessage.Accepted) {
          accepted(frozen, member);
        } else {
          String why = error != null ? error.getMessage() : ((FabricMessage.Refused) answer).reason();
          if (error != null) {
            stats.handoffFailures.increment();
          } else {
            stats.refusedByServer.increment();
          }
          log.info("{}: {} did not take {}: {}", flow, member.node(), summary, why);
          takeBack(frozen, member, why);
        }
      }));
    }

    private void accepted(ConnectionExporter.Frozen frozen, Member member) {
      long acceptedNs = System.nanoTime();
      stats.freezeAndForwardTime.record(nftDoneNs - startNs);
      stats.exportTime.record(sentNs - nftDoneNs);
      stats.fabricRoundTripTime.record(acceptedNs - sentNs);
      stats.handoffTime.record(acceptedNs - startNs);
      if (log.isDebugEnabled()) {
        log.debug("{}: handed to {} in {} µs (freeze+nft {} µs, export+encode {} µs, fabric round trip {} µs)",
            flow, member.node(), (acceptedNs - startNs) / 1000, (nftDoneNs - startNs) / 1000,
            (sentNs - nftDoneNs) / 1000, (acceptedNs - sentNs) / 1000);
      }
      try {
        frozen.prepareSilentClose();
      } catch (TransplantException e) {
        log.warn("{}: {}", flow, e.getMessage());
      }
      ch.close(); // repair mode: no FIN, no RST
      forwarding.unfreeze(flow);
      load.increment(member.node());
      stats.handedOff.increment();
    }

    /** The connection stays here: lift the nftables entries first, then resume the socket. */
    private void takeBack(ConnectionExporter.Frozen frozen, Member member, String why) {
      forwarding.cancel(flow, handoffId).whenComplete((ok, error) -> ch.eventLoop().execute(() -> {
        if (error != null) {
          log.warn("{}: cannot remove forwarding entries: {}", flow, error.getMessage());
        }
        try {
          frozen.resume();
        } catch (TransplantException e) {
          log.warn("{}: cannot resume after {}: {}", flow, why, e.getMessage());
          ch.close();
          return;
        }
        next();
      }));
    }
  }

  private void giveUp(Channel ch, VipSite site, String why) {
    log.info("{}: answering itself: {}", ch.remoteAddress(), why);
    if (site.mode() == Mode.HTTP) {
      stats.answered503.increment();
      Responses.answerAndClose(ch, 503, "Service Unavailable", why);
    } else {
      Responses.lingerClose(ch);
    }
  }

  /** The server reported {@code closed}: the entry goes after the grace period. */
  void onClosed(FabricMessage.Closed closed, String node, java.net.Inet4Address server) {
    // CLOSED does not name its handoff yet: match whatever entry forwards the flow to server.
    forwarding.retire(closed.flow(), server, ForwardingService.UNKNOWN_TOKEN);
    load.decrement(node);
  }

}
