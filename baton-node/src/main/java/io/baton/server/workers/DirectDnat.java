package io.baton.server.workers;

import io.baton.linux.LinuxException;
import io.baton.linux.Nftables;
import io.baton.linux.Sysctl;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's half of the worker layer: connections that reach this server as packets, to its own
 * address and a port ({@code workers.direct}), go to the pool's workers by nftables DNAT, chosen
 * per new connection, and conntrack translates the replies back; those bytes never pass through the
 * agent. Table {@value #TABLE}, rewritten whole in one transaction whenever the pool changes (a
 * worker added, removed, reweighted, drained, down or back).
 *
 * <p>The kernel cannot count a worker's connections, so the choice is by weight only: {@code numgen
 * random} over the weights for least-connections pools, {@code numgen inc} (in turn) for
 * round-robin ones. Nothing else tells the pool a worker died, so a prober connects to each worker
 * every {@link #PROBE_INTERVAL_MS} ms; a refused or unanswered connect takes it out of the map, a
 * successful one puts it back.
 *
 * <p>The table outlives the agent: connections the kernel translated keep flowing while it
 * restarts.
 *
 * <p>DNAT to a loopback worker (127.0.0.1:8081) needs {@code route_localnet}; with it, the table
 * also drops packets that arrive from outside already addressed to 127.0.0.0/8 (what {@code
 * route_localnet} alone would let in).
 *
 * <p>Thread-safe: the libnftables context lives on its own thread.
 */
public final class DirectDnat implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DirectDnat.class);
  public static final String TABLE = "baton_workers";
  public static final String ROUTE_LOCALNET = "net.ipv4.conf.all.route_localnet";
  static final long PROBE_INTERVAL_MS = 500;
  static final int PROBE_TIMEOUT_MS = 300;

  private final Map<InetSocketAddress, WorkerPool> pools;
  private final ExecutorService owner;
  private final ScheduledExecutorService prober;
  private Nftables nft; // on the owner thread only

  private DirectDnat(Map<InetSocketAddress, WorkerPool> pools) {
    this.pools = pools;
    this.owner =
        Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("baton-workers-dnat").daemon().unstarted(r));
    this.prober =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("baton-workers-probe").daemon().unstarted(r));
  }

  /**
   * Problems that keep {@code pools} from working on this host (route_localnet), each with its fix.
   */
  public static List<String> check(Map<InetSocketAddress, WorkerPool> pools) {
    if (!needsRouteLocalnet(pools)) return List.of();
    String now = read(ROUTE_LOCALNET);
    if ("1".equals(now)) return List.of();
    return List.of(
        ROUTE_LOCALNET
            + " is "
            + now
            + ": DNAT from the network to a worker on 127.0.0.1 needs 1; run `sysctl -w "
            + ROUTE_LOCALNET
            + "=1` (or start with apply-host-preparation: true; Baton then drops packets that arrive"
            + " addressed to 127.0.0.0/8) or give the workers a non-loopback address");
  }

  /** Makes what {@link #check} asks for; returns what was changed. */
  public static List<String> apply(Map<InetSocketAddress, WorkerPool> pools) throws LinuxException {
    if (!needsRouteLocalnet(pools) || "1".equals(read(ROUTE_LOCALNET))) return List.of();
    Sysctl.write(ROUTE_LOCALNET, "1");
    return List.of("set " + ROUTE_LOCALNET + "=1");
  }

  /**
   * Installs the table for {@code pools} (direct address:port to its pool) and starts probing.
   *
   * @throws IOException when the table cannot be written
   */
  public static DirectDnat start(Map<InetSocketAddress, WorkerPool> pools) throws IOException {
    DirectDnat d = new DirectDnat(new LinkedHashMap<>(pools));
    try {
      d.owner
          .submit(
              () -> {
                d.nft = Nftables.open();
                d.write();
                return null;
              })
          .get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      d.close();
      Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
      throw new IOException("cannot install the workers' DNAT table: " + cause.getMessage(), cause);
    }
    for (WorkerPool pool : pools.values()) {
      pool.onChange(() -> d.owner.execute(d::writeLogged));
    }
    d.prober.scheduleWithFixedDelay(
        d::probe, PROBE_INTERVAL_MS, PROBE_INTERVAL_MS, TimeUnit.MILLISECONDS);
    return d;
  }

  private void writeLogged() {
    try {
      write();
    } catch (LinuxException | RuntimeException e) {
      LOG.error("cannot rewrite the workers' DNAT table: {}", e.getMessage());
    }
  }

  private void write() throws LinuxException {
    String rules = ruleset(pools, needsRouteLocalnet(pools));
    nft.run("table ip " + TABLE + "\ndelete table ip " + TABLE + "\n" + rules);
    LOG.debug("workers' DNAT table now:\n{}", rules);
  }

  /** The whole table for {@code pools} as they are now. */
  static String ruleset(Map<InetSocketAddress, WorkerPool> pools, boolean guardLoopback) {
    StringBuilder b = new StringBuilder("table ip " + TABLE + " {\n");
    if (guardLoopback) {
      b.append("  chain martians {\n")
          .append("    type filter hook prerouting priority raw; policy accept;\n")
          .append("    iifname != \"lo\" ip daddr 127.0.0.0/8 counter drop\n")
          .append("  }\n");
    }
    b.append("  chain prerouting {\n")
        .append("    type nat hook prerouting priority dstnat; policy accept;\n");
    for (var e : pools.entrySet()) {
      InetSocketAddress direct = e.getKey();
      WorkerPool pool = e.getValue();
      Map<InetSocketAddress, Integer> eligible = pool.eligible();
      String match =
          "    ip daddr " + direct.getAddress().getHostAddress() + " tcp dport " + direct.getPort();
      if (eligible.isEmpty()) {
        // No worker can take one: nothing is translated, and the kernel resets the SYN (no
        // listener).
        b.append("    # ").append(pool.name()).append(": no worker can take new connections\n");
        continue;
      }
      int total = eligible.values().stream().mapToInt(Integer::intValue).sum();
      List<String> ranges = new ArrayList<>();
      int from = 0;
      for (var w : eligible.entrySet()) {
        int to = from + w.getValue() - 1;
        ranges.add(
            (from == to ? String.valueOf(from) : from + "-" + to)
                + " : "
                + w.getKey().getAddress().getHostAddress()
                + " . "
                + w.getKey().getPort());
        from = to + 1;
      }
      String numgen = pool.balance() == WorkerPool.Balance.ROUND_ROBIN ? "inc" : "random";
      b.append(match)
          .append(" counter dnat ip to numgen ")
          .append(numgen)
          .append(" mod ")
          .append(total)
          .append(" map { ")
          .append(String.join(", ", ranges))
          .append(" }\n");
    }
    b.append("  }\n}\n");
    return b.toString();
  }

  /** Connects to every worker of every pool once; each result goes to the pool. */
  private void probe() {
    for (WorkerPool pool : pools.values()) {
      for (WorkerPool.Worker w : pool.workers()) {
        if (w.address() == null) continue;
        try (Socket s = new Socket()) {
          s.connect(w.address(), PROBE_TIMEOUT_MS);
          w.probed(true, null);
        } catch (IOException e) {
          w.probed(false, "probe: " + e.getMessage());
        } catch (RuntimeException e) {
          LOG.warn("probing {}: {}", w, e.toString());
        }
      }
    }
  }

  private static boolean needsRouteLocalnet(Map<InetSocketAddress, WorkerPool> pools) {
    return pools.values().stream()
        .flatMap(p -> p.workers().stream())
        .anyMatch(w -> w.address() != null && w.address().getAddress().isLoopbackAddress());
  }

  private static String read(String key) {
    try {
      return Sysctl.read(key);
    } catch (LinuxException e) {
      return "unreadable (" + e.getMessage() + ")";
    }
  }

  /**
   * Stops probing and leaves the table in place: the kernel keeps delivering to the workers while
   * the agent restarts (a new agent replaces the table; one without direct pools removes it).
   */
  @Override
  public void close() {
    prober.shutdownNow();
    try {
      owner
          .submit(
              () -> {
                if (nft != null) nft.close();
                return null;
              })
          .get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("cannot close the workers' nftables context: {}", e.getMessage());
    } finally {
      owner.shutdownNow();
    }
  }

  /** Removes a table left by an earlier agent whose config had direct pools (none now). */
  public static void removeStale() throws LinuxException {
    try (Nftables n = Nftables.open()) {
      n.run("table ip " + TABLE + "\ndelete table ip " + TABLE + "\n");
    }
  }
}
