package io.baton.app;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * One {@code POST /echo}: streams the request body back piece by piece as the codec hands it up, so
 * a body of any size passes through in bounded memory ({@link WriteBackpressure} stops reading
 * while the client is slow to take the answer).
 *
 * <p>The answer has the request's Content-Length when it had one, else chunked transfer encoding
 * (HTTP/1.1) or, for HTTP/1.0, a body ended by closing the connection.
 *
 * <p>Confined to the channel's event loop.
 */
final class EchoExchange {
  private final ChannelHandlerContext ctx;

  private EchoExchange(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  /** Writes the response head for {@code request} and returns the exchange for its body. */
  static EchoExchange start(ChannelHandlerContext ctx, HttpRequest request) {
    HttpResponse head = new DefaultHttpResponse(request.protocolVersion(), HttpResponseStatus.OK);
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
    if (HttpUtil.isContentLengthSet(request)) {
      head.headers().set(HttpHeaderNames.CONTENT_LENGTH, HttpUtil.getContentLength(request));
    } else if (request.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
      HttpUtil.setTransferEncodingChunked(head, true);
    } else {
      head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.write(head);
    return new EchoExchange(ctx);
  }

  /** Sends {@code content} back; takes ownership of it. Returns true at the end of the body. */
  boolean onContent(HttpContent content) {
    if (content instanceof LastHttpContent) {
      // The request's trailers are not ours to echo.
      ctx.write(new DefaultLastHttpContent(content.content().retain()));
      content.release();
      return true;
    }
    ctx.write(content);
    return false;
  }
}
