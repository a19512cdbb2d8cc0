package io.baton.app;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;

/**
 * Serves the files under one root directory for GET and HEAD. Anything that would leave the root
 * ({@code ..} segments, a NUL, a symbolic link pointing out) is refused with 403; missing files and
 * directories without {@code index.html} get 404.
 *
 * <p>File bodies go out as a {@link DefaultFileRegion} (sendfile(2), no copy into the JVM) unless
 * the pipeline encrypts, in which case a {@link ChunkedNioFile} feeds the encryption.
 *
 * <p>Immutable and thread-safe.
 */
final class StaticFiles {
  private static final Map<String, String> TYPES =
      Map.ofEntries(
          Map.entry("html", "text/html; charset=utf-8"),
          Map.entry("htm", "text/html; charset=utf-8"),
          Map.entry("txt", "text/plain; charset=utf-8"),
          Map.entry("css", "text/css; charset=utf-8"),
          Map.entry("js", "text/javascript; charset=utf-8"),
          Map.entry("json", "application/json"),
          Map.entry("xml", "application/xml"),
          Map.entry("png", "image/png"),
          Map.entry("jpg", "image/jpeg"),
          Map.entry("jpeg", "image/jpeg"),
          Map.entry("gif", "image/gif"),
          Map.entry("svg", "image/svg+xml"),
          Map.entry("ico", "image/x-icon"),
          Map.entry("pdf", "application/pdf"));
  private static final String DEFAULT_TYPE = "application/octet-stream";

  private final Path root;

  /**
   * @param root a real (symlink-free, absolute) directory path
   */
  StaticFiles(Path root) {
    this.root = root;
  }

  /** Answers {@code request} for the decoded URI path {@code path}. */
  void serve(ChannelHandlerContext ctx, HttpRequest request, String path) {
    HttpMethod method = request.method();
    Resolved r = resolve(path);
    if (r.status != HttpResponseStatus.OK) {
      ctx.write(PlainResponses.error(request.protocolVersion(), method, r.status));
      return;
    }
    FileChannel file;
    long length;
    try {
      file = FileChannel.open(r.file, StandardOpenOption.READ);
      length = file.size();
    } catch (IOException e) {
      ctx.write(
          PlainResponses.error(request.protocolVersion(), method, HttpResponseStatus.NOT_FOUND));
      return;
    }
    HttpResponse head = new DefaultHttpResponse(request.protocolVersion(), HttpResponseStatus.OK);
    head.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, contentType(r.file))
        .set(HttpHeaderNames.CONTENT_LENGTH, length);
    ctx.write(head);
    if (HttpMethod.HEAD.equals(method)) {
      closeQuietly(file);
      ctx.write(LastHttpContent.EMPTY_LAST_CONTENT);
    } else if (ctx.pipeline().get(SslHandler.class) == null
        && ctx.pipeline().get(MigrationPoint.class) != null) {
      // Movable between regions (live migration of a download).
      long modified;
      try {
        modified = Files.getLastModifiedTime(r.file).toMillis();
      } catch (IOException e) {
        modified = 0;
      }
      ctx.flush();
      ctx.pipeline()
          .get(MigrationPoint.class)
          .startBody(
              ctx,
              root.relativize(r.file).toString(),
              file,
              length,
              modified,
              HttpUtil.isKeepAlive(request));
    } else if (ctx.pipeline().get(SslHandler.class) == null) {
      ctx.write(new DefaultFileRegion(file, 0, length)); // closes the file once sent
      ctx.write(LastHttpContent.EMPTY_LAST_CONTENT);
    } else {
      try {
        ctx.write(new HttpChunkedInput(new ChunkedNioFile(file)));
      } catch (IOException e) {
        closeQuietly(file);
        ctx.close();
      }
    }
  }

  /**
   * {@code path} (relative to the root) opened for reading, if it resolves inside the root and
   * still has this size and modification time; else null.
   */
  FileChannel openUnchanged(String path, long size, long modifiedMs) {
    Resolved r = resolve("/" + path);
    if (r.status != HttpResponseStatus.OK) return null;
    try {
      if (Files.size(r.file) != size || Files.getLastModifiedTime(r.file).toMillis() != modifiedMs)
        return null;
      return FileChannel.open(r.file, StandardOpenOption.READ);
    } catch (IOException e) {
      return null;
    }
  }

  private record Resolved(HttpResponseStatus status, Path file) {}

  private Resolved resolve(String path) {
    if (!path.startsWith("/") || path.indexOf('\0') >= 0) {
      return new Resolved(HttpResponseStatus.BAD_REQUEST, null);
    }
    for (String segment : path.split("/")) {
      if (segment.equals("..")) return new Resolved(HttpResponseStatus.FORBIDDEN, null);
    }
    Path file;
    try {
      file = root.resolve(path.substring(1)).normalize();
    } catch (InvalidPathException e) {
      return new Resolved(HttpResponseStatus.BAD_REQUEST, null);
    }
    if (!file.startsWith(root)) return new Resolved(HttpResponseStatus.FORBIDDEN, null);
    if (Files.isDirectory(file)) file = file.resolve("index.html");
    if (!Files.isRegularFile(file)) return new Resolved(HttpResponseStatus.NOT_FOUND, null);
    try {
      // A symbolic link may still lead out of the root.
      if (!file.toRealPath().startsWith(root))
        return new Resolved(HttpResponseStatus.FORBIDDEN, null);
    } catch (IOException e) {
      return new Resolved(HttpResponseStatus.NOT_FOUND, null);
    }
    return new Resolved(HttpResponseStatus.OK, file);
  }

  static String contentType(Path file) {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    if (dot < 0) return DEFAULT_TYPE;
    return TYPES.getOrDefault(name.substring(dot + 1).toLowerCase(Locale.ROOT), DEFAULT_TYPE);
  }

  private static void closeQuietly(FileChannel file) {
    try {
      file.close();
    } catch (IOException ignored) {
      // read-only file; nothing was lost
    }
  }
}
