package io.baton.app;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * A file's bytes {@code [position, end)} written to a connection as zero-copy regions of at most
 * {@link #CHUNK_BYTES}, two in flight at a time, so that the writing can stop between regions with
 * everything written so far in the kernel: the safe point of a download that a migration moves
 * mid-stream ({@link MigrationPoint}). Sendfile(2) moves the bytes either way.
 *
 * <p>Written through {@code out}: on the server that began the response, the application's context
 * (the HTTP encoder frames it and the body ends with a {@link LastHttpContent}); on a server it
 * migrated to, the context of the encoder itself, so the raw remainder bypasses it.
 *
 * <p>One instance per body; confined to the channel's event loop.
 */
final class FileBody {
  static final long CHUNK_BYTES = 1 << 20;
  private static final int IN_FLIGHT = 2;

  /** Told when the body is over: written whole ({@code complete}) or failed. */
  interface Done {
    void onDone(FileBody body, boolean complete);
  }

  final String path;
  final long end;
  final boolean keepAlive;
  final long size;
  final long modifiedMs;
  final boolean framed;
  private final FileChannel file;
  private final ChannelHandlerContext out;
  private final Done done;
  private long issued;
  private long written;
  private int inFlight;
  private boolean paused;
  private boolean over;
  private Runnable onQuiet;

  /**
   * @param path the file, relative to the application's root (for the migration state)
   * @param size the file's size and {@code modifiedMs} its modification time when it was opened
   * @param framed whether {@code out} frames HTTP (ends the body with {@link LastHttpContent})
   */
  FileBody(
      String path,
      FileChannel file,
      long position,
      long end,
      boolean keepAlive,
      long size,
      long modifiedMs,
      ChannelHandlerContext out,
      boolean framed,
      Done done) {
    this.path = path;
    this.size = size;
    this.modifiedMs = modifiedMs;
    this.file = file;
    this.issued = position;
    this.written = position;
    this.end = end;
    this.keepAlive = keepAlive;
    this.out = out;
    this.framed = framed;
    this.done = done;
  }

  void start() {
    pump();
  }

  /** Bytes of the file handed to the kernel so far (the offset a migrated body continues at). */
  long written() {
    return written;
  }

  /** Stops issuing regions; {@code quiet} runs once every issued region is in the kernel. */
  void pause(Runnable quiet) {
    paused = true;
    onQuiet = quiet;
    if (inFlight == 0) fireQuiet();
  }

  /** Paused, with every issued region in the kernel. */
  boolean quiet() {
    return paused && inFlight == 0;
  }

  void resume() {
    paused = false;
    onQuiet = null;
    pump();
  }

  /** Closes the file without writing more (the connection moved or closed). */
  void abandon() {
    over = true;
    closeFile();
  }

  private void pump() {
    while (!paused && !over && inFlight < IN_FLIGHT && issued < end) {
      long n = Math.min(CHUNK_BYTES, end - issued);
      // The region must not close the shared channel: it is closed once, when the body is over.
      DefaultFileRegion region =
          new DefaultFileRegion(file, issued, n) {
            @Override
            protected void deallocate() {}
          };
      issued += n;
      inFlight++;
      out.writeAndFlush(region).addListener((ChannelFuture f) -> written(f, n));
    }
    if (!over && issued == end && inFlight == 0 && !paused) finish();
  }

  private void written(ChannelFuture f, long n) {
    inFlight--;
    if (over) return;
    if (!f.isSuccess()) {
      org.slf4j.LoggerFactory.getLogger(FileBody.class)
          .warn(
              "{}: writing {} at {} failed: {} (cause: {})",
              f.channel(),
              path,
              written,
              String.valueOf(f.cause()),
              String.valueOf(f.cause() == null ? null : f.cause().getCause()));
      over = true;
      closeFile();
      done.onDone(this, false);
      return;
    }
    written += n;
    if (paused) {
      if (inFlight == 0) fireQuiet();
      return;
    }
    pump();
  }

  private void finish() {
    over = true;
    closeFile();
    if (framed) out.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    done.onDone(this, true);
  }

  private void fireQuiet() {
    Runnable r = onQuiet;
    onQuiet = null;
    if (r != null) r.run();
  }

  private void closeFile() {
    try {
      file.close();
    } catch (IOException ignored) {
      // read-only; nothing lost
    }
  }
}
