package io.baton.dispatcher;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The few HTTP answers the dispatcher gives itself (400, 408, 431, 503) and the polite way to end a
 * connection after them: send, shut down the write side, read and discard whatever the client still
 * sends (closing with unread bytes would reset the connection and could destroy the answer in
 * flight), close on the client's FIN or after a linger limit.
 *
 * <p>Stateless; call on the channel's event loop.
 */
final class Responses {
  private static final long LINGER_MS = 2000;

  private Responses() {}

  /**
   * The body of every 503: the same for every cause, so that it reveals nothing about the farm
   * (node or pool names, which servers were tried); the dispatcher's log has the reason.
   */
  static final String UNAVAILABLE_DETAIL = "no server can take this request now; try again later";

  /** 503 with the generic {@link #UNAVAILABLE_DETAIL} and {@code Retry-After}, then close. */
  static void unavailable(Channel ch) {
    answerAndClose(ch, 503, "Service Unavailable", UNAVAILABLE_DETAIL);
  }

  /**
   * Answers {@code status} and closes politely. {@code detail} goes into the body as is: it may
   * describe the client's own request (why it is malformed or too large) but must never name a
   * node, pool or other fact about the farm.
   */
  static void answerAndClose(Channel ch, int status, String reason, String detail) {
    ch.writeAndFlush(Unpooled.copiedBuffer(text(status, reason, detail), StandardCharsets.UTF_8))
        .addListener((ChannelFutureListener) f -> lingerClose(ch));
  }

  /** The whole answer {@link #answerAndClose} sends: status line, headers and body. */
  static String text(int status, String reason, String detail) {
    String body = status + " " + reason + ": " + detail + "\n";
    return "HTTP/1.1 "
        + status
        + " "
        + reason
        + "\r\n"
        + "Content-Type: text/plain; charset=utf-8\r\n"
        + "Content-Length: "
        + body.getBytes(StandardCharsets.UTF_8).length
        + "\r\n"
        + "Connection: close\r\n"
        + (status == 503 ? "Retry-After: 1\r\n" : "")
        + "\r\n"
        + body;
  }

  /** Shuts down output, discards input until the client's FIN or the linger limit, closes. */
  static void lingerClose(Channel ch) {
    if (!ch.isActive()) {
      ch.close();
      return;
    }
    if (ch instanceof DuplexChannel duplex) {
      duplex.shutdownOutput();
    }
    ch.pipeline()
        .addFirst(
            "baton-discard",
            new ChannelInboundHandlerAdapter() {
              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
              }

              @Override
              public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) ctx.close();
              }

              @Override
              public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
              }
            });
    ch.config().setOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true);
    ch.config().setAutoRead(true);
    ch.read();
    ch.eventLoop()
        .schedule(
            () -> {
              ch.close();
            },
            LINGER_MS,
            TimeUnit.MILLISECONDS);
  }
}
