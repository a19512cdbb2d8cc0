package io.baton.dispatcher;

import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.transplant.FlowKey;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A client connection a {@link VipListener} accepted: a raw socket on the listener's event loop,
 * read with recv(2) into the loop's buffer until its first request is in ({@link FirstRequest}),
 * then moved as a {@link ClientSide}. No Netty channel is made for the common path (accept, read,
 * hand off): a channel's set-up cost nine system calls and a pipeline per connection (issue 8). One
 * is made, from the same socket, only where Netty's handling is needed: the dispatcher's own
 * answers (400, 408, 431, 503, a polite close) and a connection this node serves itself (peer
 * mode).
 *
 * <p>Confined to the event loop it was accepted on.
 */
final class AcceptedConnection implements FirstRequest.Connection, ClientSide {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(AcceptedConnection.class);

  /** Readable, or the client's FIN; level-triggered: one recv per wake-up, no interest changes. */
  private static final EpollIoOps INTEREST = EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP);

  private final IoEventLoop loop;
  private final int fd;
  private final InetSocketAddress client;
  private final FlowKey flow;
  private final VipSite site;
  private final HandoffCoordinator.LocalService local;
  private final byte[] buffer;
  private FirstRequest phase;
  private IoRegistration registration;
  private Channel channel;
  private byte[] read = new byte[0];
  private boolean open = true;

  private AcceptedConnection(
      IoEventLoop loop,
      int fd,
      InetSocketAddress client,
      VipSite site,
      HandoffCoordinator.LocalService local,
      byte[] buffer) {
    this.loop = loop;
    this.fd = fd;
    this.client = client;
    this.flow = FlowKey.of(client, new InetSocketAddress(site.vip().address(), site.vip().port()));
    this.site = site;
    this.local = local;
    this.buffer = buffer;
  }

  /**
   * Starts the first-request phase of socket {@code fd} from {@code client}; on {@code loop}.
   * {@code buffer} is the loop's read buffer, shared by its connections (a read is consumed before
   * the next).
   */
  static void start(
      IoEventLoop loop,
      int fd,
      InetSocketAddress client,
      FirstRequest.Shared shared,
      HandoffCoordinator.LocalService local,
      byte[] buffer) {
    AcceptedConnection c = new AcceptedConnection(loop, fd, client, shared.site(), local, buffer);
    c.phase = new FirstRequest(shared, c);
    if (!c.phase.opened()) return;
    Future<IoRegistration> f = loop.register(new Readiness(c));
    if (!f.isSuccess()) {
      c.phase.onError(
          new LinuxException("epoll register(fd " + fd + ")", String.valueOf(f.cause())));
      return;
    }
    c.registration = f.getNow();
    c.registration.submit(INTEREST);
  }

  /** The socket as Netty's epoll loop sees it: its events go to the connection. */
  private static final class Readiness implements EpollIoHandle {
    private final AcceptedConnection connection;
    private final FileDescriptor fd;

    Readiness(AcceptedConnection connection) {
      this.connection = connection;
      this.fd = new FileDescriptor(connection.fd);
    }

    @Override
    public FileDescriptor fd() {
      return fd;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
      connection.readable();
    }

    @Override
    public void close() {
      // The event loop is shutting down with the connection still in its first-request phase.
      connection.phase.onClosed();
      connection.close();
    }
  }

  private void readable() {
    if (registration == null) return; // decided during an earlier event of the same wake-up
    int n;
    try {
      n = Sockets.recv(fd, buffer, 0, buffer.length);
    } catch (LinuxException e) {
      phase.onError(e);
      return;
    }
    if (n == Sockets.WOULD_BLOCK) return;
    if (n == 0) {
      phase.onEndOfInput();
      return;
    }
    phase.onBytes(buffer, 0, n);
  }

  // ---- FirstRequest.Connection

  @Override
  public InetAddress clientIp() {
    return client.getAddress();
  }

  @Override
  public String describe() {
    return client.toString();
  }

  @Override
  public void stopReading() {
    if (registration != null) {
      registration.cancel();
      registration = null;
    }
  }

  @Override
  public void answer(int status, String reason, String detail) {
    Channel ch = toChannel();
    if (ch != null) Responses.answerAndClose(ch, status, reason, detail);
  }

  @Override
  public void lingerClose() {
    Channel ch = toChannel();
    if (ch != null) Responses.lingerClose(ch);
  }

  @Override
  public ClientSide toClient(byte[] bytes) {
    this.read = bytes;
    return this;
  }

  // ---- ClientSide

  @Override
  public FlowKey flow() {
    return flow;
  }

  @Override
  public int fd() {
    return fd;
  }

  @Override
  public boolean isOpen() {
    return channel != null ? channel.isActive() : open;
  }

  @Override
  public byte[] alreadyRead() {
    return read;
  }

  @Override
  public void execute(Runnable task) {
    loop.execute(task);
  }

  @Override
  public Runnable schedule(Runnable task, long delayNs) {
    ScheduledFuture<?> f = loop.schedule(task, delayNs, TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public boolean serveLocally() {
    if (local == null) return false;
    // Accepted from a listener bound to the front interface (peer mode): served here, its later
    // packets may also come over the fabric (BoundInterface).
    try {
      Sockets.setInt(
          fd,
          Sockets.SOL_SOCKET,
          Sockets.SO_BINDTOIFINDEX,
          io.baton.netty.BoundInterface.UNBOUND,
          "SO_BINDTOIFINDEX");
    } catch (LinuxException e) {
      log.warn("{}: cannot serve it here: {}", flow, e.getMessage());
      return false;
    }
    Channel ch = toChannel();
    return ch != null && local.serve(ch, read, site.vip());
  }

  @Override
  public void close() {
    if (channel != null) {
      channel.close();
      return;
    }
    if (!open) return;
    open = false;
    stopReading();
    Sockets.closeQuietly(fd);
  }

  @Override
  public void reset() {
    if (channel != null) {
      channel.config().setOption(ChannelOption.SO_LINGER, 0);
      channel.close();
      return;
    }
    if (!open) return;
    try {
      Sockets.setLingerReset(fd);
    } catch (LinuxException e) {
      log.debug("{}: SO_LINGER: {}", flow, e.getMessage());
    }
    close();
  }

  @Override
  public boolean answerUnavailable() {
    if (site.mode() == Mode.HTTP) {
      Channel ch = toChannel();
      if (ch != null) Responses.unavailable(ch);
      return true;
    }
    lingerClose();
    return false;
  }

  /**
   * The same socket as a Netty channel on this loop, made once, not reading until asked (auto-read
   * off) and keeping a half-closed connection open; null, and the socket closed, if Netty cannot
   * take it.
   */
  private Channel toChannel() {
    if (channel != null) return channel;
    if (!open) return null;
    stopReading();
    try {
      EpollSocketChannel ch = new EpollSocketChannel(fd);
      ch.config().setAutoRead(false);
      ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
      var registered = ch.newPromise();
      ch.unsafe().register(loop, registered);
      if (registered.isDone() && !registered.isSuccess()) {
        throw new IllegalStateException("register: " + registered.cause());
      }
      channel = ch;
      return ch;
    } catch (RuntimeException e) {
      log.debug("{}: cannot make a channel of its socket: {}", flow, e.toString());
      close();
      return null;
    }
  }
}
