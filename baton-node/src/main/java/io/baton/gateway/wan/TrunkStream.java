package io.baton.gateway.wan;

import io.baton.netty.KeepEpollRegistered;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.TreeMap;

/**
 * One client connection carried over a {@link Trunk}: joins a local TCP socket (the intercepted LAN
 * client, or the far gateway's connection to the server) to the stream's frames.
 *
 * <p>Local bytes go out as sequenced {@link TrunkFrame.Data} frames; the receiver puts frames back
 * in order (they may come over different connections), writes them to its local socket and returns
 * {@link TrunkFrame.Credit} as those writes complete. A sender never has more than {@link
 * WanParameters#windowBytes} sent and not yet credited: the part of a read that would pass the
 * window waits here (at most one read) and the local socket is not read again until credit comes
 * back. So each side holds at most one window per stream in flight whatever the readers do. A FIN
 * travels in sequence (a half-close reaches the far socket after every byte before it); a reset or
 * a failed local socket aborts both ends at once with RST.
 *
 * <p>Confined to the trunk's event loop.
 */
public final class TrunkStream {
  /** Largest Data frame: small enough that one lost segment delays little of a stream. */
  static final int MAX_FRAME_PAYLOAD = 16 * 1024;

  private final int id;
  private final Trunk trunk;
  private final int window;
  private Channel local;

  /** In-order bytes for a local socket that is not connected yet (the far side's dial). */
  private final ArrayDeque<ByteBuf> beforeConnect = new ArrayDeque<>();

  private boolean finBeforeConnect;

  private int sendSeq;
  private int receiveSeq;
  private final TreeMap<Integer, TrunkFrame> early = new TreeMap<>();
  private long sentBytes;

  /** Bytes read from the local socket that did not fit the window yet (at most one read). */
  private ByteBuf held;

  /** The local socket's FIN arrived while bytes were held: it follows them. */
  private boolean finHeld;

  private long peerConsumed;
  private long consumed;
  private long creditSent;
  private boolean localInputDone;
  private boolean localOutputDone;
  private boolean closed;
  private final long openedAtNs = System.nanoTime();

  TrunkStream(int id, Trunk trunk, int window) {
    this.id = id;
    this.trunk = trunk;
    this.window = window;
  }

  public int id() {
    return id;
  }

  /** Bytes read from the local socket and sent over the trunk. */
  public long sentBytes() {
    return sentBytes;
  }

  /** Bytes received over the trunk and written to the local socket. */
  public long receivedBytes() {
    return consumed;
  }

  public long ageMs() {
    return (System.nanoTime() - openedAtNs) / 1_000_000;
  }

  /** The local socket, once attached; null before. */
  public Channel local() {
    return local;
  }

  /** Next sequence number to send; the dialer's OPEN takes 0. */
  int nextSendSeq() {
    return sendSeq++;
  }

  /**
   * Joins {@code channel} (active, auto-read off) to this stream: adds the handler that moves its
   * bytes and starts reading. Bytes that arrived before are written first.
   */
  public void attach(Channel channel) {
    this.local = channel;
    channel.pipeline().addLast("keep-epoll", KeepEpollRegistered.INSTANCE);
    channel.pipeline().addLast("stream", new LocalEnd());
    while (!beforeConnect.isEmpty()) writeLocal(beforeConnect.poll());
    if (finBeforeConnect) shutdownLocalOutput();
    if (closed) return;
    channel.config().setAutoRead(true);
  }

  // --- trunk -> local ---

  /** The far side's OPEN, frame 0 of the stream; frames that overtook it are delivered now. */
  void onOpen() {
    if (receiveSeq != 0) {
      trunk.fail("stream " + id + " opened twice");
      return;
    }
    receiveSeq = 1;
    TrunkFrame next;
    while (!closed && (next = early.remove(receiveSeq)) != null) deliver(next);
  }

  public boolean isClosed() {
    return closed;
  }

  /** A sequenced frame of this stream (Data or Fin; the OPEN was handled by the trunk). */
  void onSequenced(int seq, TrunkFrame frame) {
    if (closed) {
      release(frame);
      return;
    }
    if (seq != receiveSeq) {
      if (Integer.compareUnsigned(seq, receiveSeq) < 0 || early.containsKey(seq)) {
        release(frame);
        trunk.fail("stream " + id + ": frame " + seq + " twice (expected " + receiveSeq + ")");
        return;
      }
      early.put(seq, frame);
      return;
    }
    deliver(frame);
    TrunkFrame next;
    while (!closed && (next = early.remove(receiveSeq)) != null) deliver(next);
  }

  private void deliver(TrunkFrame frame) {
    receiveSeq++;
    switch (frame) {
      case TrunkFrame.Data d -> {
        if (local == null) beforeConnect.add(d.payload());
        else writeLocal(d.payload());
      }
      case TrunkFrame.Fin f -> {
        if (local == null) finBeforeConnect = true;
        else shutdownLocalOutput();
      }
      case TrunkFrame.Open o -> trunk.fail("stream " + id + " opened twice");
      default -> throw new IllegalStateException("not a sequenced frame: " + frame);
    }
  }

  private void writeLocal(ByteBuf bytes) {
    int n = bytes.readableBytes();
    local
        .writeAndFlush(bytes)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (!f.isSuccess()) {
                    abort("writing to " + local.remoteAddress() + " failed: " + f.cause(), true);
                    return;
                  }
                  consumed += n;
                  trunk.counters().bytesFromWan.add(n);
                  // Credit in quarters of the window: the sender always has room for three
                  // quarters.
                  if (consumed - creditSent >= window / 4) sendCredit();
                });
  }

  private void sendCredit() {
    creditSent = consumed;
    trunk.send(new TrunkFrame.Credit(id, consumed));
  }

  private void shutdownLocalOutput() {
    local
        .writeAndFlush(Unpooled.EMPTY_BUFFER)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (closed) return;
                  if (consumed > creditSent) sendCredit();
                  ((DuplexChannel) local)
                      .shutdownOutput()
                      .addListener(
                          (ChannelFutureListener)
                              s -> {
                                localOutputDone = true;
                                finishIfDone();
                              });
                });
  }

  /** The far end's credit: resume reading the local socket if the window opened again. */
  void onCredit(long consumedByPeer) {
    if (consumedByPeer > peerConsumed) peerConsumed = consumedByPeer;
    if (local == null || closed) return;
    if (held != null) {
      sendWithinWindow(held);
      if (held.isReadable()) return;
      held.release();
      held = null;
      if (finHeld) {
        onLocalFin();
        return;
      }
    }
    if (!localInputDone && !local.config().isAutoRead() && sentBytes - peerConsumed < window) {
      local.config().setAutoRead(true);
    }
  }

  /** The far end reset the stream: reset the local socket (RST, not FIN). */
  void onReset(String reason) {
    trunk.log().debug("stream {} reset by the far gateway: {}", id, reason);
    abort(null, true);
  }

  /** The trunk failed: every stream on it is reset, so no client sees a clean but short end. */
  void onTrunkFailed() {
    abort(null, true);
  }

  // --- local -> trunk ---

  private void onLocalBytes(ByteBuf bytes) {
    if (closed || localInputDone) {
      bytes.release();
      return;
    }
    if (held != null) {
      // Read after auto-read went off (the rest of one read loop): it queues behind the held bytes.
      held = Unpooled.wrappedBuffer(held, bytes);
    } else {
      sendWithinWindow(bytes);
      if (bytes.isReadable()) held = bytes;
      else bytes.release();
    }
    if (held != null || sentBytes - peerConsumed >= window) local.config().setAutoRead(false);
  }

  /**
   * Sends as much of {@code bytes} as the far end's credit allows, in frames; the rest stays
   * readable.
   */
  private void sendWithinWindow(ByteBuf bytes) {
    long room = window - (sentBytes - peerConsumed);
    while (bytes.isReadable() && room > 0) {
      int n = (int) Math.min(Math.min(MAX_FRAME_PAYLOAD, bytes.readableBytes()), room);
      sentBytes += n;
      room -= n;
      trunk.counters().bytesToWan.add(n);
      trunk.send(new TrunkFrame.Data(id, nextSendSeq(), bytes.readRetainedSlice(n)));
    }
  }

  private void onLocalFin() {
    if (closed || localInputDone) return;
    if (held != null) {
      finHeld = true;
      return;
    }
    localInputDone = true;
    trunk.send(new TrunkFrame.Fin(id, nextSendSeq()));
    finishIfDone();
  }

  /**
   * Ends the stream at once: tells the far end (unless it told us) and resets the local socket
   * (SO_LINGER 0, so the kernel sends RST).
   */
  public void abort(String reasonForPeer, boolean resetLocal) {
    if (closed) return;
    closed = true;
    trunk.counters().streamsReset.increment();
    if (reasonForPeer != null) trunk.send(new TrunkFrame.Reset(id, reasonForPeer));
    releaseAll();
    if (local != null && local.isOpen()) {
      if (resetLocal) local.config().setOption(ChannelOption.SO_LINGER, 0);
      local.close();
    }
    trunk.streamClosed(this);
  }

  private void finishIfDone() {
    if (closed || !localInputDone || !localOutputDone) return;
    closed = true;
    releaseAll();
    local.close();
    trunk.streamClosed(this);
  }

  private void releaseAll() {
    early.values().forEach(TrunkStream::release);
    early.clear();
    beforeConnect.forEach(ByteBuf::release);
    beforeConnect.clear();
    if (held != null) {
      held.release();
      held = null;
    }
  }

  private static void release(TrunkFrame frame) {
    if (frame instanceof TrunkFrame.Data d) d.payload().release();
  }

  /** The handler on the local socket. */
  private final class LocalEnd extends ChannelDuplexHandler {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      onLocalBytes((ByteBuf) msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) onLocalFin();
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      InetSocketAddress peer = (InetSocketAddress) ctx.channel().remoteAddress();
      abort("the connection to " + peer + " failed: " + cause.getMessage(), true);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      // Closed under us without both directions finished: the peer reset or the socket died.
      abort(
          "the connection to " + ctx.channel().remoteAddress() + " closed before the stream ended",
          false);
      ctx.fireChannelInactive();
    }
  }
}
