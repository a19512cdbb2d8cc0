package io.baton.app;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** Small text responses: errors and {@code /whoami}. Stateless. */
final class PlainResponses {
  private PlainResponses() {}

  /** A {@code text/plain} response with Content-Length; the body is left out for HEAD. */
  static FullHttpResponse text(
      HttpVersion version, HttpMethod method, HttpResponseStatus status, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    FullHttpResponse r =
        new DefaultFullHttpResponse(
            version,
            status,
            HttpMethod.HEAD.equals(method) ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(bytes));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
        .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    return r;
  }

  /** An error page: the status line repeated as text. */
  static FullHttpResponse error(HttpVersion version, HttpMethod method, HttpResponseStatus status) {
    return text(version, method, status, status + "\n");
  }

  /** 405 with the methods the resource does allow. */
  static FullHttpResponse methodNotAllowed(HttpVersion version, HttpMethod method, String allow) {
    FullHttpResponse r = error(version, method, HttpResponseStatus.METHOD_NOT_ALLOWED);
    r.headers().set(HttpHeaderNames.ALLOW, allow);
    return r;
  }

  /** Marks a response as the connection's last. */
  static FullHttpResponse closing(FullHttpResponse r) {
    r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    return r;
  }
}
