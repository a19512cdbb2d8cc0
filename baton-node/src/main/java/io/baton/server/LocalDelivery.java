package io.baton.server;

import io.baton.dataplane.Vip;
import io.netty.channel.Channel;

/**
 * Serves, on this node, a connection that this node's own dispatcher accepted (peer mode), without
 * a handoff. Implemented by the server agent; a node runner passes it to its dispatcher.
 */
public interface LocalDelivery {
  /**
   * Takes over {@code ch}, whose first {@code consumed} bytes were already read, for {@code vip};
   * false when this node serves nothing on that VIP and port or is at its connection limit (the
   * dispatcher then tries the next member). Call on the channel's event loop.
   */
  boolean serve(Channel ch, byte[] consumed, Vip vip);
}
