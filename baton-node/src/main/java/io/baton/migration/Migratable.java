package io.baton.migration;

import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.Promise;

/**
 * An embedded application's part in moving its connection to another server: a handler in the
 * channel's pipeline (the server finds it with {@code pipeline.get(Migratable.class)}). A pipeline
 * without one is never moved.
 *
 * <p>Both methods are called on the channel's event loop.
 */
public interface Migratable extends ChannelHandler {

  /**
   * The server wants to move this connection. The application stops at its next safe point: nothing
   * of a request half processed that the target could not finish, everything it wrote handed to the
   * kernel (the move carries the kernel's send queue, acknowledged or not), no more reading
   * (auto-read off) and no more writing. Then it completes {@code point} with what the target needs
   * ({@link SafePoint}). It fails {@code point} when it cannot stop (the connection stays here); a
   * server also gives up after its own deadline and calls {@link #resume}.
   */
  void suspend(Promise<SafePoint> point);

  /** The move is off (refused, timed out, or the point came too late): carry on as before. */
  void resume();
}
