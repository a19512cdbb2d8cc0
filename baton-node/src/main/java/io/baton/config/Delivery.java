package io.baton.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How a server agent hands a restored connection for one VIP port to the application. The
 * deliveries of a server are also the list of VIPs it serves: the agent puts each VIP on {@code lo}
 * and guards its ports. Immutable.
 */
public sealed interface Delivery
    permits Delivery.Relay, Delivery.Pass, Delivery.Embedded, Delivery.Udp {
  /** The VIP address the connection was made to. */
  InetAddress vip();

  /** The VIP port. */
  int port();

  /**
   * To an unmodified local server (e.g. nginx) over a loopback connection of its own (opened ahead
   * of need, see {@code preconnect}), bytes copied with splice(2); responses still leave from the
   * VIP straight to the client. With {@code workers}, to one of several local server processes,
   * chosen per connection.
   *
   * @param upstream where the application listens, e.g. {@code 127.0.0.1:8080}; with workers, the
   *     first worker's address
   * @param workers the worker pool ({@code workers:}); empty for a single application ({@code
   *     relay:})
   * @param balance how the pool chooses: {@code least-connections} or {@code round-robin}
   * @param direct this server's own address and port whose connections the kernel spreads over the
   *     workers (nftables DNAT, weighted), never through the agent; empty: none
   * @param preconnect connections to each upstream that every relay event loop keeps open ahead of
   *     need ({@code preconnect:}, default {@link #DEFAULT_PRECONNECT}; 0: connect per connection)
   */
  record Relay(
      InetAddress vip,
      int port,
      InetSocketAddress upstream,
      List<Worker> workers,
      String balance,
      java.util.Optional<InetSocketAddress> direct,
      int preconnect)
      implements Delivery {
    public static final int DEFAULT_PRECONNECT = 1;
    public static final int MAX_PRECONNECT = 16;

    public Relay(InetAddress vip, int port, InetSocketAddress upstream) {
      this(vip, port, upstream, DEFAULT_PRECONNECT);
    }

    /** To one application ({@code relay:}), keeping {@code preconnect} connections ahead. */
    public Relay(InetAddress vip, int port, InetSocketAddress upstream, int preconnect) {
      this(
          vip,
          port,
          upstream,
          List.of(),
          "least-connections",
          java.util.Optional.empty(),
          preconnect);
    }

    public Relay {
      Objects.requireNonNull(vip, "vip");
      Objects.requireNonNull(upstream, "upstream");
      workers = List.copyOf(workers);
      Objects.requireNonNull(balance, "balance");
      Objects.requireNonNull(direct, "direct");
      if (preconnect < 0 || preconnect > MAX_PRECONNECT) {
        throw new IllegalArgumentException(
            "preconnect must be 0.." + MAX_PRECONNECT + ": " + preconnect);
      }
    }

    /** Whether connections are spread over a pool of workers. */
    public boolean pooled() {
      return !workers.isEmpty();
    }
  }

  /** One worker of a pool: its name (unique in the pool), address and weight (0..1000). */
  record Worker(String name, InetSocketAddress address, int weight) {
    public Worker {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(address, "address");
    }
  }

  /**
   * To cooperating worker processes: the restored socket itself is passed to the chosen worker over
   * its Unix socket (SCM_RIGHTS), no relay; {@code io.baton.worker} is their library.
   *
   * @param workers the workers, each with its socket path
   * @param balance how the pool chooses: {@code least-connections} or {@code round-robin}
   */
  record Pass(InetAddress vip, int port, List<PassWorker> workers, String balance)
      implements Delivery {
    public Pass {
      Objects.requireNonNull(vip, "vip");
      workers = List.copyOf(workers);
      if (workers.isEmpty()) throw new IllegalArgumentException("a pass delivery needs workers");
      Objects.requireNonNull(balance, "balance");
    }
  }

  /**
   * One cooperating worker: its name (unique in the pool), Unix socket path and weight (0..1000).
   */
  record PassWorker(String name, Path socket, int weight) {
    public PassWorker {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(socket, "socket");
    }
  }

  /**
   * To a Java application in the agent's JVM, as a Netty channel.
   *
   * @param app the application's name, e.g. {@code sample}
   * @param root the application's content directory (absolute)
   * @param cacheBytes the size of the sample app's object cache ({@code /cached/KEY}); 0: none
   */
  record Embedded(InetAddress vip, int port, String app, Path root, long cacheBytes)
      implements Delivery {
    public Embedded(InetAddress vip, int port, String app, Path root) {
      this(vip, port, app, root, 0);
    }

    public Embedded {
      Objects.requireNonNull(vip, "vip");
      Objects.requireNonNull(app, "app");
      Objects.requireNonNull(root, "root");
    }
  }

  /**
   * A {@code mode: udp} VIP port: the dispatcher forwards each UDP flow's datagrams here, and a
   * process on this host that binds the VIP port itself answers them from the VIP ({@code udp:
   * local}, e.g. a DNS server), or the agent echoes each datagram back ({@code udp: echo}). Either
   * way the agent puts the VIP on {@code lo}; no connection is handed over.
   *
   * @param echo the agent serves the port itself with an echo
   */
  record Udp(InetAddress vip, int port, boolean echo) implements Delivery {
    public Udp {
      Objects.requireNonNull(vip, "vip");
    }
  }
}
