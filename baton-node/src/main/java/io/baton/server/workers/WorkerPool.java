package io.baton.server.workers;

import io.baton.server.delivery.UpstreamChooser;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workers of one VIP port on a server and the choice among them, per new connection:
 *
 * <ul>
 *   <li>{@link Balance#LEAST_CONNECTIONS}: the fewest active connections per unit of weight, ties
 *       in turn;
 *   <li>{@link Balance#ROUND_ROBIN}: smooth weighted round robin (nginx's), so weights 3:1 give 3
 *       of every 4 connections, interleaved.
 * </ul>
 *
 * A worker with weight 0 or draining gets no new connection; its connections stay. A worker whose
 * connect fails is down at once (the relay retries the connection on another worker, so a dead
 * worker costs no client anything); after {@link #RETRY_AFTER_NS} a down worker is tried again when
 * nothing else is left and by one connection at a time otherwise, and its first success brings it
 * back. There is no separate prober: connections are the probes.
 *
 * <p>Thread-safe: relays on every event loop choose, the admin endpoint reweights and drains.
 */
public final class WorkerPool implements UpstreamChooser {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);

  /** How long a failed worker is left alone before a connection tries it again. */
  public static final long RETRY_AFTER_NS = 1_000_000_000L;

  /** How the pool chooses. */
  public enum Balance {
    LEAST_CONNECTIONS,
    ROUND_ROBIN;

    /**
     * From the config's word: {@code round-robin}, else least connections (the binder checked it).
     */
    public static Balance of(String configured) {
      return configured.equals("round-robin") ? ROUND_ROBIN : LEAST_CONNECTIONS;
    }
  }

  private final String name;
  private final Balance balance;
  private final LongSupplier nanoTime;
  private final List<Worker> workers = new ArrayList<>();
  private final List<Runnable> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
  private int turn;

  /**
   * @param name what the pool serves, for logs ({@code 198.18.0.100:80})
   * @param nanoTime the clock (System::nanoTime; tests pass a fake)
   */
  public WorkerPool(String name, Balance balance, LongSupplier nanoTime) {
    this.name = name;
    this.balance = balance;
    this.nanoTime = nanoTime;
  }

  public String name() {
    return name;
  }

  /**
   * Told (on the changing thread, outside the pool's lock) whenever which workers can take new
   * connections may have changed: added, removed, weighted, drained, down or back.
   */
  public void onChange(Runnable listener) {
    listeners.add(listener);
  }

  private void changed() {
    for (Runnable r : listeners) r.run();
  }

  /** The workers that may take new connections now, with their weights (for the kernel's DNAT). */
  public synchronized Map<InetSocketAddress, Integer> eligible() {
    Map<InetSocketAddress, Integer> m = new LinkedHashMap<>();
    for (Worker w : workers) {
      if (!w.down && !w.draining && w.weight > 0 && w.address != null)
        m.merge(w.address, w.weight, Integer::sum);
    }
    return m;
  }

  public Balance balance() {
    return balance;
  }

  /** Adds a worker; names are unique in the pool. */
  public Worker add(String workerName, InetSocketAddress address, int weight) {
    return add(
        new Worker(workerName, java.util.Objects.requireNonNull(address, "address"), null, weight));
  }

  /** Adds a cooperating worker, reached at its Unix socket; names are unique in the pool. */
  public Worker add(String workerName, java.nio.file.Path socket, int weight) {
    return add(
        new Worker(workerName, null, java.util.Objects.requireNonNull(socket, "socket"), weight));
  }

  private Worker add(Worker w) {
    synchronized (this) {
      addLocked(w);
    }
    changed();
    return w;
  }

  private void addLocked(Worker w) {
    if (find(w.name) != null)
      throw new IllegalArgumentException("pool " + name + " already has a worker " + w.name);
    if (!workers.isEmpty() && (workers.get(0).socket == null) != (w.socket == null)) {
      throw new IllegalArgumentException(
          "pool "
              + name
              + (w.socket == null
                  ? " passes connections to workers' sockets: add a socket path, not an address"
                  : " relays to workers' addresses: add an ADDRESS:PORT, not a socket path"));
    }
    checkWeight(w.weight);
    workers.add(w);
  }

  /** Takes a worker out: no new connection; its connections stay until they end. */
  public Worker remove(String workerName) {
    Worker w;
    synchronized (this) {
      w = require(workerName);
      workers.remove(w);
    }
    changed();
    return w;
  }

  /** Sets a worker's weight (0: no new connections): blue/green by weight. */
  public void setWeight(String workerName, int weight) {
    synchronized (this) {
      checkWeight(weight);
      require(workerName).weight = weight;
    }
    changed();
  }

  /** Drains (or undrains) a worker: no new connections while drained. */
  public void setDraining(String workerName, boolean draining) {
    synchronized (this) {
      require(workerName).draining = draining;
    }
    changed();
  }

  @Override
  public synchronized Upstream choose(Set<Upstream> tried) {
    long now = nanoTime.getAsLong();
    Worker best = null;
    Worker retry = null;
    int n = workers.size();
    int totalWeight = 0;
    for (int k = 0; k < n; k++) {
      Worker w = workers.get((turn + k) % n);
      if (tried.contains(w) || w.draining || w.weight == 0) continue;
      if (w.down) {
        if (now - w.downSinceNs >= RETRY_AFTER_NS
            && !w.probing
            && (retry == null || w.downSinceNs < retry.downSinceNs)) {
          retry = w;
        }
        continue;
      }
      totalWeight += w.weight;
      if (balance == Balance.ROUND_ROBIN) w.current += w.weight;
      if (best == null || better(w, best)) best = w;
    }
    if (retry != null) {
      // A down worker past its pause gets this connection as its probe (one at a time).
      retry.probing = true;
      best = retry;
    } else if (best != null && balance == Balance.ROUND_ROBIN) {
      best.current -= totalWeight;
    }
    if (best == null) return null;
    if (n > 0) turn = (turn + 1) % n;
    best.active.incrementAndGet();
    best.chosen.increment();
    return best;
  }

  private boolean better(Worker a, Worker b) {
    if (balance == Balance.ROUND_ROBIN) return a.current > b.current;
    // a.active / a.weight < b.active / b.weight, without division
    return (long) a.active.get() * b.weight < (long) b.active.get() * a.weight;
  }

  /** Every worker as a row for listings: name, address, weight, state, active, chosen, failures. */
  public synchronized List<Map<String, Object>> describe() {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Worker w : workers) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("pool", name);
      m.put("worker", w.name);
      m.put("address", w.target());
      m.put("weight", w.weight);
      m.put("state", w.state());
      m.put("active", w.active.get());
      m.put("connections", w.chosen.sum());
      m.put("failures", w.failures.sum());
      rows.add(m);
    }
    return rows;
  }

  /** The workers now in the pool. */
  public synchronized List<Worker> workers() {
    return List.copyOf(workers);
  }

  private Worker find(String workerName) {
    for (Worker w : workers) if (w.name.equals(workerName)) return w;
    return null;
  }

  private Worker require(String workerName) {
    Worker w = find(workerName);
    if (w == null) {
      throw new IllegalArgumentException(
          "pool "
              + name
              + " has no worker "
              + workerName
              + " (it has "
              + workers.stream().map(x -> x.name).toList()
              + ")");
    }
    return w;
  }

  private static void checkWeight(int weight) {
    if (weight < 0 || weight > 1000)
      throw new IllegalArgumentException("weight must be 0..1000, got " + weight);
  }

  /**
   * One worker: an address the relay connects to, or a socket connections are passed to; with its
   * counters.
   */
  public final class Worker implements Upstream {
    private final String name;
    private final InetSocketAddress address;
    private final java.nio.file.Path socket;
    private volatile int weight;
    private volatile boolean draining;
    private volatile boolean down;
    private volatile boolean probing;
    private volatile long downSinceNs;

    /** Smooth weighted round robin's running weight; guarded by the pool. */
    private int current;

    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder chosen = new LongAdder();
    private final LongAdder failures = new LongAdder();

    private Worker(String name, InetSocketAddress address, java.nio.file.Path socket, int weight) {
      this.name = name;
      this.address = address;
      this.socket = socket;
      this.weight = weight;
    }

    /** Where it is: {@code IP:PORT}, or its socket's path. */
    public String target() {
      return socket != null
          ? socket.toString()
          : address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    public String name() {
      return name;
    }

    @Override
    public InetSocketAddress address() {
      return address;
    }

    @Override
    public java.nio.file.Path socket() {
      return socket;
    }

    public int active() {
      return active.get();
    }

    public long connections() {
      return chosen.sum();
    }

    public long failures() {
      return failures.sum();
    }

    public boolean isDown() {
      return down;
    }

    String state() {
      return down ? "down" : draining ? "draining" : weight == 0 ? "weight 0" : "up";
    }

    @Override
    public void connected() {
      if (down || probing) {
        // It took a connection: it is back.
        boolean back;
        synchronized (WorkerPool.this) {
          back = down;
          if (down) LOG.info("worker {} of {} ({}) is back", name, WorkerPool.this.name, target());
          down = false;
          probing = false;
        }
        if (back) changed();
      }
    }

    /**
     * A health probe's result (for pools whose connections the kernel delivers, which the pool
     * never sees): a failure takes the worker down, a success brings it back.
     */
    public void probed(boolean ok, String why) {
      boolean change;
      synchronized (WorkerPool.this) {
        change = down == ok;
        if (change && ok)
          LOG.info("worker {} of {} ({}) is back", name, WorkerPool.this.name, target());
        if (change && !ok)
          LOG.warn("worker {} of {} ({}) is down: {}", name, WorkerPool.this.name, target(), why);
        if (change && !ok) {
          failures.increment();
          downSinceNs = nanoTime.getAsLong();
        }
        down = !ok;
        if (ok) probing = false;
      }
      if (change) changed();
    }

    @Override
    public void released() {
      active.decrementAndGet();
    }

    @Override
    public void failed(String why) {
      active.decrementAndGet();
      failures.increment();
      boolean change;
      synchronized (WorkerPool.this) {
        change = !down;
        if (!down)
          LOG.warn("worker {} of {} ({}) is down: {}", name, WorkerPool.this.name, target(), why);
        down = true;
        probing = false;
        downSinceNs = nanoTime.getAsLong();
      }
      if (change) changed();
    }

    @Override
    public String toString() {
      return name + " (" + target() + ")";
    }
  }
}
