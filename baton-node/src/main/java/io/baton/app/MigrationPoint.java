package io.baton.app;

import io.baton.migration.Migratable;
import io.baton.migration.MigratedIn;
import io.baton.migration.SafePoint;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sample application's safe points for live migration ({@link Migratable}), between the HTTP
 * codec and the application:
 *
 * <ul>
 *   <li>between requests: every request answered, every answer in the kernel, and the decoder at a
 *       request boundary (the bytes it holds, the start of the next request, travel as {@link
 *       SafePoint#unread}); nothing to carry;
 *   <li>in a file download: between two regions of the body ({@link FileBody}), everything issued
 *       in the kernel; the state carries the file, the offset and the file's size and modification
 *       time, and the target writes the rest ({@link MigratedIn}). A file that changed in between
 *       is not continued: the target closes the connection (the client sees a short body, never a
 *       wrong one).
 * </ul>
 *
 * <p>While a body is being written, requests the client pipelined behind it wait here (reading
 * stops), so answers stay in order.
 *
 * <p>One instance per channel; confined to its event loop.
 */
final class MigrationPoint extends ChannelDuplexHandler implements Migratable {
  private static final Logger log = LoggerFactory.getLogger(MigrationPoint.class);
  private static final int BODY_STATE = 0x42464231; // "BFB1"

  private final StaticFiles files;
  private ChannelHandlerContext ctx;
  private long requests;
  private long answered;
  private FileBody body;
  private final ArrayDeque<Object> held = new ArrayDeque<>();
  private boolean heldRequest;
  private Promise<SafePoint> pending;
  private boolean suspended;

  MigrationPoint(StaticFiles files) {
    this.files = files;
  }

  /** Whether this pipeline's migration point keeps reading off (a body or a move in progress). */
  static boolean holdsReads(ChannelPipeline pipeline) {
    MigrationPoint p = pipeline.get(MigrationPoint.class);
    return p != null && (p.body != null || p.suspended);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (body != null) body.abandon(); // closed here, or moved on: the file is not needed here
    held.forEach(ReferenceCountUtil::release);
    held.clear();
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (body != null || suspended || !held.isEmpty()) {
      held.add(msg);
      if (msg instanceof HttpRequest) heldRequest = true;
      return;
    }
    if (msg instanceof HttpRequest) requests++;
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof LastHttpContent) {
      promise = promise.unvoid();
      promise.addListener(
          (ChannelFuture f) -> {
            if (f.isSuccess()) {
              answered++;
              check();
            }
          });
    }
    ctx.write(msg, promise);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof MigratedIn in) {
      continueBody(in.appState());
      return;
    }
    if (evt instanceof ChannelInputShutdownEvent
        && (body != null || suspended || !held.isEmpty())) {
      held.add(evt); // the client's FIN comes after the answers it waits for
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  /**
   * Writes {@code [0, length)} of {@code file} as the body of the response whose head {@code app}
   * just wrote, movable between regions.
   */
  void startBody(
      ChannelHandlerContext app,
      String path,
      FileChannel file,
      long length,
      long modifiedMs,
      boolean keepAlive) {
    body =
        new FileBody(
            path, file, 0, length, keepAlive, length, modifiedMs, app, true, this::bodyDone);
    readsOff();
    body.start();
  }

  private void continueBody(byte[] appState) {
    BodyState s;
    try {
      s = BodyState.decode(appState);
    } catch (IOException | RuntimeException e) {
      log.warn(
          "{}: migrated in with an application state this app cannot read ({}); closing",
          ctx.channel(),
          e.getMessage());
      ctx.close();
      return;
    }
    FileChannel file = files.openUnchanged(s.path, s.size, s.modifiedMs);
    if (file == null) {
      log.warn(
          "{}: the download of {} moved here, but the file is missing or changed; closing",
          ctx.channel(),
          s.path);
      ctx.close();
      return;
    }
    // Raw, past the encoder: the head and the first part went out from the other server.
    ChannelHandlerContext raw = ctx.pipeline().context(SampleApp.ENCODER);
    body =
        new FileBody(
            s.path,
            file,
            s.offset,
            s.end,
            s.keepAlive,
            s.size,
            s.modifiedMs,
            raw,
            false,
            this::bodyDone);
    readsOff();
    body.start();
  }

  private void bodyDone(FileBody b, boolean complete) {
    if (body != b) return;
    body = null;
    if (!complete) {
      ctx.close();
      return;
    }
    if (!b.framed && !b.keepAlive) {
      ctx.close(); // a migrated-in body of a connection that ends with it
      return;
    }
    readsOnIfFree();
    drainHeld();
    check();
  }

  @Override
  public void suspend(Promise<SafePoint> point) {
    if (pending != null || suspended) {
      point.tryFailure(
          new IllegalStateException("a move of this connection is already in progress"));
      return;
    }
    pending = point;
    check();
  }

  @Override
  public void resume() {
    pending = null;
    suspended = false;
    if (body != null) {
      body.resume();
    } else {
      readsOnIfFree();
      drainHeld();
    }
  }

  private void check() {
    if (pending == null || heldRequest) return;
    BoundaryAwareRequestDecoder decoder = ctx.pipeline().get(BoundaryAwareRequestDecoder.class);
    if (decoder == null || !decoder.atBoundary()) return;
    SafePoint point;
    if (body != null) {
      if (requests != answered + (body.framed ? 1 : 0)) return;
      if (!body.quiet()) {
        body.pause(this::check);
        return;
      }
      point =
          new SafePoint(
              new BodyState(
                      body.path,
                      body.written(),
                      body.end,
                      body.keepAlive,
                      body.size,
                      body.modifiedMs)
                  .encode(),
              decoder.unread());
    } else {
      if (requests != answered) return;
      point = new SafePoint(new byte[0], decoder.unread());
    }
    held.forEach(ReferenceCountUtil::release); // only pieces of answered requests are held here
    held.clear();
    suspended = true;
    ctx.channel().config().setAutoRead(false);
    Promise<SafePoint> p = pending;
    pending = null;
    p.trySuccess(point);
  }

  private void readsOff() {
    ctx.channel().config().setAutoRead(false);
  }

  private void readsOnIfFree() {
    if (body == null && !suspended && ctx.channel().isWritable())
      ctx.channel().config().setAutoRead(true);
  }

  private void drainHeld() {
    while (!held.isEmpty() && body == null && !suspended) {
      Object msg = held.poll();
      if (msg instanceof ChannelInputShutdownEvent) {
        ctx.fireUserEventTriggered(msg);
        continue;
      }
      if (msg instanceof HttpRequest) requests++;
      ctx.fireChannelRead(msg);
    }
    heldRequest = held.stream().anyMatch(m -> m instanceof HttpRequest);
    if (held.isEmpty()) ctx.fireChannelReadComplete();
  }

  /** What a download moved mid-stream carries. */
  record BodyState(
      String path, long offset, long end, boolean keepAlive, long size, long modifiedMs) {
    byte[] encode() {
      var bytes = new ByteArrayOutputStream();
      try (var out = new DataOutputStream(bytes)) {
        out.writeInt(BODY_STATE);
        out.writeUTF(path);
        out.writeLong(offset);
        out.writeLong(end);
        out.writeBoolean(keepAlive);
        out.writeLong(size);
        out.writeLong(modifiedMs);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return bytes.toByteArray();
    }

    static BodyState decode(byte[] bytes) throws IOException {
      var in = new DataInputStream(new ByteArrayInputStream(bytes));
      if (in.readInt() != BODY_STATE) throw new IOException("not a download's state");
      BodyState s =
          new BodyState(
              in.readUTF(),
              in.readLong(),
              in.readLong(),
              in.readBoolean(),
              in.readLong(),
              in.readLong());
      if (in.available() != 0) throw new IOException(in.available() + " bytes after the state");
      if (s.offset < 0 || s.end < s.offset || s.size < s.end)
        throw new IOException("offsets out of range: " + s);
      return s;
    }
  }
}
