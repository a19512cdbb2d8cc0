package io.baton.server.delivery;

import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;

/**
 * One socket of a {@link SpliceRelay} as Netty's epoll event loop sees it: a raw descriptor
 * registered for readiness, whose events go to the relay. Does no I/O itself.
 *
 * <p>The descriptor stays its listener's: Netty's {@link #close} (called when the event loop shuts
 * down) asks the relay to close, which cancels the registration before closing the descriptor.
 * Confined to the event loop it is registered with.
 */
final class RelayEndpoint implements EpollIoHandle {
  /** Both directions, edge-triggered: the relay drains until EAGAIN, so no interest changes. */
  static final EpollIoOps INTEREST =
      EpollIoOps.EPOLLIN
          .with(EpollIoOps.EPOLLOUT)
          .with(EpollIoOps.EPOLLRDHUP)
          .with(EpollIoOps.EPOLLET);

  /** Who gets the events. */
  interface Listener {
    void onReady(RelayEndpoint endpoint, EpollIoOps ops);

    void onEventLoopClosing();
  }

  private final FileDescriptor fd;
  private Listener listener;

  RelayEndpoint(int fd, Listener listener) {
    this.fd = new FileDescriptor(fd);
    this.listener = listener;
  }

  @Override
  public FileDescriptor fd() {
    return fd;
  }

  int intFd() {
    return fd.intValue();
  }

  /**
   * From now on the events go to {@code next}: a connection opened ahead of need ({@link
   * PreconnectedUpstreams}) passes to the relay that takes it, registration and all.
   */
  void listenTo(Listener next) {
    this.listener = next;
  }

  @Override
  public void handle(IoRegistration registration, IoEvent event) {
    listener.onReady(this, ((EpollIoEvent) event).ops());
  }

  @Override
  public void close() {
    listener.onEventLoopClosing();
  }
}
