package io.baton.app;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;

/**
 * Routes each decoded request of a connection to its endpoint ({@code /echo}, {@code /whoami},
 * static files) and answers malformed or oversized request heads. Requests are answered in the
 * order they arrive, which keeps pipelined answers in order; body pieces go to the echo exchange in
 * progress or are dropped.
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class RequestRouter extends ChannelInboundHandlerAdapter {
  private static final String CACHED = "/cached/";
  private final StaticFiles files;
  private final String nodeName;
  private final ContentCache cache; // null: no /cached/ route
  private EchoExchange echo;

  RequestRouter(StaticFiles files, String nodeName, ContentCache cache) {
    this.files = files;
    this.nodeName = nodeName;
    this.cache = cache;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      if (request.decoderResult().isFailure()) {
        ReferenceCountUtil.release(msg);
        refuseHead(ctx, request.decoderResult());
        return;
      }
      echo = null;
      route(ctx, request);
    }
    if (msg instanceof HttpContent content) {
      if (echo != null) {
        if (echo.onContent(content)) echo = null;
      } else {
        content.release();
      }
    }
  }

  private void route(ChannelHandlerContext ctx, HttpRequest request) {
    HttpVersion version = request.protocolVersion();
    HttpMethod method = request.method();
    String path;
    try {
      path = new QueryStringDecoder(request.uri()).path();
    } catch (IllegalArgumentException e) {
      ctx.write(PlainResponses.error(version, method, HttpResponseStatus.BAD_REQUEST));
      return;
    }
    boolean read = HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method);
    switch (path) {
      case "/echo" -> {
        if (HttpMethod.POST.equals(method)) {
          echo = EchoExchange.start(ctx, request);
        } else {
          ctx.write(PlainResponses.methodNotAllowed(version, method, "POST"));
        }
      }
      case "/whoami" -> {
        if (read) {
          ctx.write(PlainResponses.text(version, method, HttpResponseStatus.OK, nodeName + "\n"));
        } else {
          ctx.write(PlainResponses.methodNotAllowed(version, method, "GET, HEAD"));
        }
      }
      default -> {
        if (read && cache != null && path.startsWith(CACHED) && path.length() > CACHED.length()) {
          cache.serve(ctx, request, path.substring(CACHED.length()));
        } else if (read) {
          files.serve(ctx, request, path);
        } else {
          ctx.write(PlainResponses.methodNotAllowed(version, method, "GET, HEAD"));
        }
      }
    }
  }

  /** The codec gave up on a request head; it reads nothing more, so answer and close. */
  private static void refuseHead(ChannelHandlerContext ctx, DecoderResult result) {
    HttpResponseStatus status =
        switch (result.cause()) {
          case TooLongHttpHeaderException e -> HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
          case TooLongHttpLineException e -> HttpResponseStatus.REQUEST_URI_TOO_LONG;
          default -> HttpResponseStatus.BAD_REQUEST;
        };
    ctx.writeAndFlush(
            PlainResponses.closing(
                PlainResponses.error(HttpVersion.HTTP_1_1, HttpMethod.GET, status)))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // Answers written during this read leave together.
    ctx.flush();
    ctx.fireChannelReadComplete();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
