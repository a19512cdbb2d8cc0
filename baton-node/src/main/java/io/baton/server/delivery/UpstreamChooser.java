package io.baton.server.delivery;

import java.net.InetSocketAddress;
import java.util.Set;

/**
 * Where a relayed connection goes: one fixed application, or one of several local workers ({@code
 * io.baton.server.workers.WorkerPool}). The relay asks for an upstream per connection, and again
 * (with the ones it tried) when a connect fails before a byte moved, so a dead worker costs a new
 * connection nothing but a retry.
 *
 * <p>Implementations are thread-safe: relays on every event loop call them.
 */
public interface UpstreamChooser {
  /**
   * One upstream, counted as in use from {@link #choose} until {@link #released} or {@link
   * #failed}.
   */
  interface Upstream {
    /** Where a relay connects; null for a worker that is passed connections instead. */
    InetSocketAddress address();

    /**
     * The Unix socket of a cooperating worker that connections are passed to; null for a relay's.
     */
    default java.nio.file.Path socket() {
      return null;
    }

    /** The relay's connect to it succeeded. */
    default void connected() {}

    /** The relay's connection to it ended (once per choice). */
    void released();

    /** Connecting to it failed (once per choice, instead of released). */
    void failed(String why);
  }

  /** The upstream for a new connection, not one of {@code tried}; null when none can take it. */
  Upstream choose(Set<Upstream> tried);

  /** Always {@code address}: the single application of a {@code relay:} delivery. */
  static UpstreamChooser fixed(InetSocketAddress address) {
    Upstream only =
        new Upstream() {
          @Override
          public InetSocketAddress address() {
            return address;
          }

          @Override
          public void released() {}

          @Override
          public void failed(String why) {}

          @Override
          public String toString() {
            return address.getAddress().getHostAddress() + ":" + address.getPort();
          }
        };
    return tried -> tried.contains(only) ? null : only;
  }
}
