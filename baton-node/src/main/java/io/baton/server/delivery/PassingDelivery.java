package io.baton.server.delivery;

import io.baton.linux.FdIo;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.UnixSockets;
import io.baton.migration.SafePoint;
import io.baton.worker.PassProtocol;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Passes each restored connection to a cooperating worker process: the socket itself goes over the
 * worker's Unix socket (SCM_RIGHTS, {@link PassProtocol}), so the worker reads the client's bytes,
 * the ones already queued included, and answers from the VIP with no relay in between.
 *
 * <p>The agent keeps one link per worker, opened at the first connection (and again after it
 * breaks). A worker that cannot be reached or does not take the message within {@link
 * #SEND_TIMEOUT_MS} is reported failed to the pool and the same connection goes to another worker:
 * a dead worker costs a new connection nothing. The worker reports each connection's end ({@code
 * CLOSED}); when its link ends (the worker exited), every connection passed over it is over as far
 * as the farm is concerned. A passed connection cannot migrate: the worker owns the socket.
 *
 * <p>Passing runs on one thread of its own (a connect and a send per connection, bounded by the
 * timeout), never on the caller's. Thread-safe.
 */
public final class PassingDelivery implements Delivery, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PassingDelivery.class);

  /** How long a worker may take to accept a link or a message before it counts as failed. */
  public static final long SEND_TIMEOUT_MS = 1_000;

  private final EventLoopGroup group;
  private final UpstreamChooser workers;
  private final String name;
  private final ExecutorService passer;
  private final Map<Path, Link> links = new ConcurrentHashMap<>();
  private final AtomicLong nextId = new AtomicLong(1);

  /**
   * @param group loops for the {@link Movable} view of a passed connection
   * @param workers the pool, whose upstreams have {@link UpstreamChooser.Upstream#socket()}s
   * @param name what the delivery serves, for logs and the thread's name
   */
  public PassingDelivery(EventLoopGroup group, UpstreamChooser workers, String name) {
    this.group = group;
    this.workers = workers;
    this.name = name;
    this.passer =
        Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("baton-pass " + name).daemon().unstarted(r));
  }

  @Override
  public void deliver(
      int fd,
      byte[] unsentTail,
      ConnectionInfo info,
      CloseListener onClosed,
      java.util.function.Consumer<Movable> onMovable) {
    CloseListener once = new CloseOnce(onClosed, info);
    byte[] tail = unsentTail.clone();
    if (info.ackOwed() && unsentTail.length == 0) {
      // A worker process owns the socket from here: acknowledge now, the one time this can.
      owedAck.sendIfSilent(fd, info.owedAck(), info);
    }
    try {
      passer.execute(() -> pass(fd, tail, info, once, onMovable));
    } catch (RejectedExecutionException e) {
      log.warn("{} not passed: the delivery is closed; closing it", info);
      Sockets.closeQuietly(fd);
      once.onClosed(0, 0);
    }
  }

  private void pass(
      int fd,
      byte[] tail,
      ConnectionInfo info,
      CloseListener once,
      java.util.function.Consumer<Movable> onMovable) {
    try {
      Sockets.setNonBlocking(fd, false);
      // Bytes the previous owner never sent go first, before the worker can write anything.
      FdIo.writeAll(fd, tail, 0, tail.length, System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
    } catch (IOException e) {
      log.info("{}: cannot prepare it for a worker ({}); closing it", info, e.getMessage());
      Sockets.closeQuietly(fd);
      once.onClosed(0, 0);
      return;
    }
    Set<UpstreamChooser.Upstream> tried = new HashSet<>();
    UpstreamChooser.Upstream worker;
    while ((worker = workers.choose(tried)) != null) {
      tried.add(worker);
      Passed passed = new Passed(nextId.getAndIncrement(), worker, once, tail.length);
      Link link = links.computeIfAbsent(worker.socket(), Link::new);
      try {
        link.pass(passed, info, fd);
      } catch (LinuxException e) {
        worker.failed(e.getMessage());
        continue;
      }
      worker.connected();
      Sockets.closeQuietly(fd); // the worker has its own descriptor for the connection now
      onMovable.accept(passed);
      log.debug("passed {} to {}", info, worker);
      return;
    }
    log.warn("no worker of {} can take {} (tried {}); closing it", name, info, tried);
    Sockets.closeQuietly(fd);
    once.onClosed(0, tail.length);
  }

  private final OwedAck owedAck = new OwedAck();

  @Override
  public long owedAcksSent() {
    return owedAck.sent();
  }

  @Override
  public long idleTimeouts() {
    return 0; // idle connections are the worker's to close
  }

  /** Closes the links (workers keep the connections they have) and the passing thread. */
  @Override
  public void close() {
    passer.shutdownNow();
    links.values().forEach(Link::close);
  }

  /**
   * The agent's link to one worker: one connection to its socket at a time (a {@link Session}),
   * opened when needed.
   */
  private final class Link {
    private final Path socket;
    private Session session; // guarded by this

    Link(Path socket) {
      this.socket = socket;
    }

    synchronized void pass(Passed passed, ConnectionInfo info, int connection)
        throws LinuxException {
      if (session == null) session = Session.open(this);
      Session s = session;
      s.open.put(passed.id, passed);
      try {
        UnixSockets.send(
            s.fd,
            PassProtocol.conn(
                new PassProtocol.Conn(passed.id, info.flow().client(), info.flow().local())),
            connection);
      } catch (LinuxException e) {
        s.open.remove(passed.id);
        // Its reader sees the end and settles what was passed over it.
        session = null;
        s.shutdown();
        throw e;
      }
    }

    synchronized void close() {
      if (session != null) session.shutdown();
      session = null;
    }

    synchronized void ended(Session s) {
      if (session == s) session = null;
    }
  }

  /**
   * One connection to a worker's socket and the connections passed over it and not yet reported
   * closed. Its reader thread owns the descriptor and closes it.
   */
  private static final class Session {
    final int fd;
    final Map<Long, Passed> open = new ConcurrentHashMap<>();

    private Session(int fd) {
      this.fd = fd;
    }

    static Session open(Link link) throws LinuxException {
      int fd = UnixSockets.connect(link.socket);
      try {
        UnixSockets.setTimeouts(fd, SEND_TIMEOUT_MS, 0);
        UnixSockets.send(fd, PassProtocol.hello(), -1);
      } catch (LinuxException e) {
        Sockets.closeQuietly(fd);
        throw e;
      }
      Session s = new Session(fd);
      Thread.ofPlatform().name("baton-pass-link " + link.socket).daemon().start(() -> s.read(link));
      return s;
    }

    void shutdown() {
      try {
        Sockets.shutdown(fd, Sockets.SHUT_RDWR); // wakes the reader, which closes
      } catch (LinuxException e) {
        log.debug("shutting a worker link down: {}", e.getMessage());
      }
    }

    /** Reads the worker's CLOSED reports until the link ends, then settles the rest. */
    private void read(Link link) {
      String why = null;
      try {
        while (true) {
          UnixSockets.Message m = UnixSockets.receive(fd, PassProtocol.MAX_MESSAGE_BYTES);
          if (m.fd() >= 0) {
            Sockets.closeQuietly(m.fd());
            why = "the worker sent a descriptor";
            break;
          }
          if (m.isEnd()) break;
          PassProtocol.Closed c;
          try {
            c = PassProtocol.parseClosed(m.bytes());
          } catch (IllegalArgumentException e) {
            why = "the worker spoke out of protocol: " + e.getMessage();
            break;
          }
          Passed p = open.remove(c.id());
          if (p == null) {
            log.debug(
                "{} reported connection {} closed, which it does not have", link.socket, c.id());
          } else {
            p.closed(c.bytesIn(), c.bytesOut());
          }
        }
      } catch (LinuxException e) {
        why = e.getMessage();
      }
      link.ended(this);
      Sockets.closeQuietly(fd);
      List<Passed> lost = new ArrayList<>(open.values());
      open.clear();
      if (why != null || !lost.isEmpty()) {
        log.warn(
            "link to worker {} ended ({}); {} connection(s) passed over it count as closed",
            link.socket,
            why == null ? "the worker closed it" : why,
            lost.size());
      }
      lost.forEach(p -> p.closed(0, 0));
    }
  }

  /** A connection in a worker's hands, as the agent's listings and migrations see it. */
  private final class Passed implements Movable {
    private final long id;
    private final UpstreamChooser.Upstream worker;
    private final CloseListener onClosed;
    private final long tailBytes;
    private final AtomicBoolean over = new AtomicBoolean();
    private final EventExecutor loop = group.next();
    private volatile long bytesIn;
    private volatile long bytesOut;

    Passed(long id, UpstreamChooser.Upstream worker, CloseListener onClosed, long tailBytes) {
      this.id = id;
      this.worker = worker;
      this.onClosed = onClosed;
      this.tailBytes = tailBytes;
    }

    void closed(long in, long out) {
      if (!over.compareAndSet(false, true)) return;
      bytesIn = in;
      bytesOut = out + tailBytes;
      worker.released();
      onClosed.onClosed(bytesIn, bytesOut);
    }

    @Override
    public EventExecutor loop() {
      return loop;
    }

    @Override
    public int fd() {
      return -1;
    }

    @Override
    public long bytesIn() {
      return bytesIn;
    }

    @Override
    public long bytesOut() {
      return bytesOut;
    }

    @Override
    public boolean isOpen() {
      return !over.get();
    }

    @Override
    public void suspend(Promise<SafePoint> point) {
      point.tryFailure(
          new IllegalStateException(
              "it was passed to worker "
                  + worker
                  + ", which owns its socket now; a passed connection cannot move"));
    }

    @Override
    public void forceSuspend(Promise<SafePoint> point) {
      suspend(point);
    }

    @Override
    public void resume() {}

    @Override
    public void close() {
      throw new IllegalStateException("a passed connection is closed by its worker");
    }

    @Override
    public void reset() {
      throw new IllegalStateException("a passed connection is closed by its worker");
    }
  }
}
