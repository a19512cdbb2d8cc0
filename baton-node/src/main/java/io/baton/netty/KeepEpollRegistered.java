package io.baton.netty;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Works around a Netty 4.2 epoll bug (4.2.18 to at least 4.2.20) that cuts short large answers on
 * half-closed connections.
 *
 * <p>The bug: when a channel's epoll interest set becomes empty, Netty's {@code
 * EpollIoHandler.DefaultEpollIoRegistration.submit} deletes the descriptor from the epoll set
 * ({@code EPOLL_CTL_DEL}, added by netty/netty#16689) but leaves the registration in its "added"
 * state, so the next interest change is an {@code EPOLL_CTL_MOD} that fails with ENOENT. Netty
 * wraps that failure in an {@code UncheckedIOException}, which is not an {@code IOException}, so
 * the write path shuts the channel's output instead of closing it: the client gets a short body and
 * a FIN, and the server logs a {@code ChannelOutputShutdownException}.
 *
 * <p>The set becomes empty on a connection whose client half-closed (a FIN after its request: input
 * shut down, so no {@code EPOLLIN} and no {@code EPOLLRDHUP}) as soon as all queued output has been
 * written; the next write that does not fit the socket buffer then fails. Found with {@code
 * ProcessFarmLabTest.requestThenFinIsServed} (a 100 MiB download cut short in about one try in 15)
 * and proven by strace: {@code EPOLL_CTL_MOD ... {events=EPOLLOUT}}, then {@code EPOLL_CTL_DEL},
 * then {@code EPOLL_CTL_MOD} = ENOENT.
 *
 * <p>The fix: the channel's interest always includes {@code EPOLLERR}, which Netty never clears and
 * which epoll reports whether asked for or not, so the set is never empty and never deleted.
 * Nothing else changes: an error or hang-up wakes the loop exactly as before. {@code setFlag} is
 * protected on a package-private class, hence the reflective handle, resolved once; if a Netty
 * upgrade removes it, the class fails to initialise at start-up (not per connection).
 *
 * <p>Added first to a pipeline (of a channel that allows half-closure; a handler that sees the FIN
 * itself can call {@link #onInputShutdown} instead): when the client's FIN arrives ({@link
 * ChannelInputShutdownEvent}) it sets the flag, before Netty clears {@code EPOLLRDHUP}, and removes
 * itself. Connections that never half-close pay nothing. Sharable.
 */
@ChannelHandler.Sharable
public final class KeepEpollRegistered extends ChannelInboundHandlerAdapter {
  public static final KeepEpollRegistered INSTANCE = new KeepEpollRegistered();
  private static final MethodHandle SET_FLAG = setFlag();

  private KeepEpollRegistered() {}

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof ChannelInputShutdownEvent) {
      onInputShutdown(ctx.channel());
      ctx.pipeline().remove(this);
    }
    ctx.fireUserEventTriggered(evt);
  }

  /**
   * The fix itself, for a handler that sees the client's FIN on its own (so that the hot path needs
   * no extra handler): call it on {@link ChannelInputShutdownEvent}. Epoll channels only.
   */
  public static void onInputShutdown(io.netty.channel.Channel channel) throws Exception {
    if (channel instanceof AbstractEpollStreamChannel) apply(channel);
  }

  /** Sets {@code EPOLLERR} in {@code channel}'s interest; on its event loop, once registered. */
  private static void apply(io.netty.channel.Channel channel) throws Exception {
    try {
      SET_FLAG.invoke(channel, EpollIoOps.EPOLLERR.value());
    } catch (Exception | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static MethodHandle setFlag() {
    try {
      Class<?> type = Class.forName("io.netty.channel.epoll.AbstractEpollChannel");
      var method = type.getDeclaredMethod("setFlag", int.class);
      method.setAccessible(true);
      return MethodHandles.lookup()
          .unreflect(method)
          .asType(MethodType.methodType(void.class, io.netty.channel.Channel.class, int.class));
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new ExceptionInInitializerError(
          new IllegalStateException(
              "this Netty has no AbstractEpollChannel.setFlag(int), which the workaround for its epoll"
                  + " interest bug needs (see KeepEpollRegistered); check whether the bug is fixed",
              e));
    }
  }
}
