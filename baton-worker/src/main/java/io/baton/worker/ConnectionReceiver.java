package io.baton.worker;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.UnixSockets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's end of connection passing: listens on a Unix socket (the {@code socket:} a server
 * agent's config names for this worker) and gives every connection an agent passes to {@code
 * handler}, as a {@link PassedConnection}.
 *
 * <pre>{@code
 * try (var receiver = ConnectionReceiver.listen(Path.of("/run/app/w1.sock"), conn ->
 *     Thread.ofPlatform().start(() -> { try (conn) { serve(conn); } }))) {
 *   receiver.awaitClose();
 * }
 * }</pre>
 *
 * The handler runs on the agent link's reader thread: it must hand the connection to another thread
 * and return. An agent that restarts connects again; connections passed before keep working, but
 * their closes can no longer be reported to the old link (the new agent does not know them). A
 * malformed message from an agent closes that link, and any descriptor that came with it, with the
 * reason logged. Thread-safe.
 */
public final class ConnectionReceiver implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectionReceiver.class);

  private final Path path;
  private final int listener;
  private final Consumer<PassedConnection> handler;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private volatile boolean closed;

  private ConnectionReceiver(Path path, int listener, Consumer<PassedConnection> handler) {
    this.path = path;
    this.listener = listener;
    this.handler = handler;
    this.acceptor =
        Thread.ofPlatform().name("baton-worker-accept").daemon().unstarted(this::acceptLoop);
  }

  /**
   * Listens at {@code path} (a stale socket file there is replaced) and starts accepting agents.
   */
  public static ConnectionReceiver listen(Path path, Consumer<PassedConnection> handler)
      throws LinuxException {
    ConnectionReceiver r = new ConnectionReceiver(path, UnixSockets.listen(path, 16), handler);
    r.acceptor.start();
    return r;
  }

  public Path path() {
    return path;
  }

  /** Blocks until {@link #close} (from another thread, or a shutdown hook). */
  public void awaitClose() throws InterruptedException {
    acceptor.join();
  }

  private void acceptLoop() {
    while (!closed) {
      Link link;
      try {
        link = new Link(UnixSockets.accept(listener));
      } catch (LinuxException e) {
        if (!closed) LOG.error("accepting an agent on {} failed: {}", path, e.getMessage());
        return;
      }
      links.add(link);
      Thread.ofPlatform().name("baton-worker-link-" + link.fd).daemon().start(() -> readLink(link));
    }
  }

  private void readLink(Link link) {
    try {
      UnixSockets.Message hello = UnixSockets.receive(link.fd, PassProtocol.MAX_MESSAGE_BYTES);
      if (hello.fd() >= 0) Sockets.closeQuietly(hello.fd());
      if (hello.isEnd()) return;
      PassProtocol.parseHello(hello.bytes());
      LOG.info("an agent connected on {}", path);
      while (!closed) {
        UnixSockets.Message m = UnixSockets.receive(link.fd, PassProtocol.MAX_MESSAGE_BYTES);
        if (m.isEnd()) {
          LOG.info("the agent's link on {} closed", path);
          return;
        }
        PassProtocol.Conn conn;
        try {
          conn = PassProtocol.parseConn(m.bytes());
          if (m.fd() < 0)
            throw new IllegalArgumentException("CONN " + conn.id() + " came without a socket");
        } catch (IllegalArgumentException e) {
          if (m.fd() >= 0) Sockets.closeQuietly(m.fd());
          throw e;
        }
        handler.accept(new PassedConnection(conn, m.fd(), c -> report(link, c)));
      }
    } catch (LinuxException | IllegalArgumentException e) {
      if (!closed) LOG.warn("closing the agent's link on {}: {}", path, e.getMessage());
    } finally {
      synchronized (link) {
        links.remove(link);
        Sockets.closeQuietly(link.fd);
      }
    }
  }

  private void report(Link link, PassProtocol.Closed c) {
    synchronized (link) {
      if (!links.contains(link)) {
        LOG.debug("connection {} closed after its agent's link did; not reported", c.id());
        return;
      }
      try {
        UnixSockets.send(link.fd, PassProtocol.closed(c), -1);
      } catch (LinuxException e) {
        LOG.debug("reporting the close of connection {}: {}", c.id(), e.getMessage());
      }
    }
  }

  /** One agent's connection (an object, so a reused descriptor number is never mistaken for it). */
  private static final class Link {
    final int fd;

    Link(int fd) {
      this.fd = fd;
    }
  }

  /**
   * Stops accepting, closes the agents' links and removes the socket file. Passed connections stay.
   */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      Sockets.shutdown(listener, Sockets.SHUT_RD);
    } catch (LinuxException e) {
      LOG.debug("shutting the listener down: {}", e.getMessage());
    }
    Sockets.closeQuietly(listener);
    for (Link link : links) {
      try {
        Sockets.shutdown(link.fd, Sockets.SHUT_RD);
      } catch (LinuxException e) {
        LOG.debug("shutting a link down: {}", e.getMessage());
      }
    }
    try {
      UnixSockets.unlink(path);
    } catch (LinuxException e) {
      LOG.debug("removing {}: {}", path, e.getMessage());
    }
  }
}
