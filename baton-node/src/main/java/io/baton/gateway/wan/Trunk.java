package io.baton.gateway.wan;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAN leg between two gateways: {@code params.connections()} TCP connections carrying many
 * {@link TrunkStream}s. Frames of a stream are striped over the connections (each frame goes to the
 * connection with the most room in its outbound buffer, ties in turn), so a loss on one connection
 * delays only the frames that connection carries and the others keep the link busy.
 *
 * <p>A trunk fails as a whole: when any of its connections dies, frames in flight on it are lost,
 * so every stream is reset (its client sees RST, never a silently short transfer) and the trunk is
 * dropped; the next client connection dials a new one.
 *
 * <p>Confined to one event loop, which also owns every channel of the trunk and of its streams.
 */
public final class Trunk {
  /** Liveness beat on every connection. */
  public static final long PING_INTERVAL_MS = 1_000;

  /** A connection silent this long is dead (TCP_USER_TIMEOUT catches unacknowledged data too). */
  public static final long DEAD_AFTER_MS = 5_000;

  private static final Logger LOG = LoggerFactory.getLogger(Trunk.class);

  /** Serves a stream the far gateway opened: connect to its destination and attach. */
  public interface StreamOpener {
    void open(TrunkStream stream, InetSocketAddress destination, InetSocketAddress client);
  }

  private final byte[] id;
  private final boolean dialer;
  private final WanParameters params;
  private final String peer;
  private final Channel[] connections;
  private final Map<Integer, TrunkStream> streams = new LinkedHashMap<>();
  private final StreamOpener opener;
  private final Consumer<Trunk> onClosed;
  private final TrunkCounters counters;
  private final List<TrunkFrame> queued = new ArrayList<>();
  private int up;
  private int nextStream = 1;
  private int highestPeerStream;
  private int turn;
  private boolean failed;
  private ScheduledFuture<?> pinger;

  Trunk(
      byte[] id,
      boolean dialer,
      WanParameters params,
      EventLoop loop,
      String peer,
      StreamOpener opener,
      Consumer<Trunk> onClosed,
      TrunkCounters counters) {
    this.counters = counters;
    counters.trunksUp.incrementAndGet();
    this.id = id.clone();
    this.dialer = dialer;
    this.params = params;
    this.peer = peer;
    this.connections = new Channel[params.connections()];
    this.opener = opener;
    this.onClosed = onClosed;
    this.pinger =
        loop.scheduleAtFixedRate(
            this::ping, PING_INTERVAL_MS, PING_INTERVAL_MS, TimeUnit.MILLISECONDS);
  }

  public String idText() {
    return HexFormat.of().formatHex(id, 0, 6);
  }

  public WanParameters params() {
    return params;
  }

  public String peer() {
    return peer;
  }

  public boolean isFailed() {
    return failed;
  }

  public int openStreams() {
    return streams.size();
  }

  /** The streams now open, for listings. */
  public List<TrunkStream> streams() {
    return List.copyOf(streams.values());
  }

  Logger log() {
    return LOG;
  }

  TrunkCounters counters() {
    return counters;
  }

  /** Connection {@code index} is ready for frames (its HELLO sent or checked). */
  void connectionUp(int index, Channel channel) {
    if (failed) {
      channel.close();
      return;
    }
    if (connections[index] != null) {
      fail("connection " + index + " joined twice");
      channel.close();
      return;
    }
    connections[index] = channel;
    up++;
    channel
        .closeFuture()
        .addListener(
            (ChannelFutureListener) f -> fail("connection " + index + " to " + peer + " closed"));
    if (!queued.isEmpty()) {
      List<TrunkFrame> frames = new ArrayList<>(queued);
      queued.clear();
      frames.forEach(this::send);
    }
  }

  /**
   * Opens a stream for {@code local} (active, auto-read off) to {@code destination}; the OPEN is
   * the stream's frame 0. Dialer side only.
   */
  public TrunkStream open(Channel local, InetSocketAddress destination, InetSocketAddress client) {
    if (!dialer) throw new IllegalStateException("only the dialing gateway opens streams");
    TrunkStream stream = new TrunkStream(nextStream++, this, params.windowBytes());
    streams.put(stream.id(), stream);
    counters.streamsOpened.increment();
    counters.streamsOpen.incrementAndGet();
    send(new TrunkFrame.Open(stream.id(), stream.nextSendSeq(), destination, client));
    stream.attach(local);
    return stream;
  }

  /** A frame from connection {@code from}. */
  void onFrame(TrunkFrame frame) {
    if (failed) {
      if (frame instanceof TrunkFrame.Data d) d.payload().release();
      return;
    }
    switch (frame) {
      case TrunkFrame.Ping p -> {}
      case TrunkFrame.Hello h -> fail("HELLO on an open connection");
      case TrunkFrame.Credit c -> {
        TrunkStream s = streams.get(c.stream());
        if (s != null) s.onCredit(c.consumedBytes());
      }
      case TrunkFrame.Reset r -> {
        TrunkStream s = streams.get(r.stream());
        if (s == null && !dialer && Integer.compareUnsigned(r.stream(), highestPeerStream) > 0) {
          // Reset overtook the OPEN: remember the id as ended so the OPEN opens nothing.
          s = newPeerStream(r.stream());
        }
        if (s != null) s.onReset(r.reason());
      }
      case TrunkFrame.Open o -> sequenced(o.stream(), o.seq(), frame);
      case TrunkFrame.Data d -> sequenced(d.stream(), d.seq(), frame);
      case TrunkFrame.Fin f -> sequenced(f.stream(), f.seq(), frame);
    }
  }

  private void sequenced(int streamId, int seq, TrunkFrame frame) {
    TrunkStream stream = streams.get(streamId);
    if (stream == null) {
      if (dialer || Integer.compareUnsigned(streamId, highestPeerStream) <= 0) {
        // A stream that has ended here; its late frames have nowhere to go.
        if (frame instanceof TrunkFrame.Data d) d.payload().release();
        return;
      }
      // The far side opens streams with rising ids; frames may arrive before the OPEN.
      for (int skipped = highestPeerStream + 1; skipped < streamId; skipped++) {
        // Ids never seen are streams whose frames are still on their way: create them too.
        if (!streams.containsKey(skipped)) newPeerStream(skipped);
      }
      stream = newPeerStream(streamId);
    }
    if (frame instanceof TrunkFrame.Open o) {
      if (seq != 0) {
        fail("stream " + streamId + " OPEN with sequence " + seq);
        return;
      }
      stream.onOpen();
      if (!stream.isClosed()) opener.open(stream, o.destination(), o.client());
      return;
    }
    stream.onSequenced(seq, frame);
  }

  private TrunkStream newPeerStream(int streamId) {
    TrunkStream stream = new TrunkStream(streamId, this, params.windowBytes());
    streams.put(streamId, stream);
    highestPeerStream = streamId;
    counters.streamsOpened.increment();
    counters.streamsOpen.incrementAndGet();
    return stream;
  }

  /** Sends {@code frame} on the connection with the most room; queued until one is up. */
  void send(TrunkFrame frame) {
    if (failed) {
      if (frame instanceof TrunkFrame.Data d) d.payload().release();
      return;
    }
    Channel best = null;
    long room = -1;
    int n = connections.length;
    for (int k = 0; k < n; k++) {
      Channel c = connections[(turn + k) % n];
      if (c == null) continue;
      long r = c.bytesBeforeUnwritable();
      if (r > room) {
        room = r;
        best = c;
      }
    }
    if (best == null) {
      queued.add(frame);
      return;
    }
    turn = (turn + 1) % n;
    best.writeAndFlush(frame, best.voidPromise());
  }

  void streamClosed(TrunkStream stream) {
    if (streams.remove(stream.id()) != null) counters.streamsOpen.decrementAndGet();
  }

  private void ping() {
    for (Channel c : connections) {
      if (c != null)
        c.writeAndFlush(new TrunkFrame.Ping(System.currentTimeMillis()), c.voidPromise());
    }
  }

  /** Fails the trunk: resets every stream, closes every connection. Idempotent. */
  public void fail(String reason) {
    if (failed) return;
    failed = true;
    pinger.cancel(false);
    counters.trunksUp.decrementAndGet();
    if (!reason.equals("closed") && !reason.equals("gateway stopping"))
      counters.trunkFailures.increment();
    if (!streams.isEmpty() || up > 0) {
      LOG.warn(
          "trunk {} to {} failed ({} streams reset): {}", idText(), peer, streams.size(), reason);
    }
    for (TrunkStream s : List.copyOf(streams.values())) s.onTrunkFailed();
    counters.streamsOpen.addAndGet(-streams.size());
    streams.clear();
    for (TrunkFrame f : queued) if (f instanceof TrunkFrame.Data d) d.payload().release();
    queued.clear();
    for (Channel c : connections) if (c != null) c.close();
    onClosed.accept(this);
  }

  /** Closes the trunk without failing a stream: only when none is open. */
  public void closeIdle() {
    if (!streams.isEmpty()) throw new IllegalStateException("trunk has open streams");
    fail("closed");
  }

  @Override
  public String toString() {
    return "trunk "
        + idText()
        + " to "
        + peer
        + " ("
        + up
        + "/"
        + connections.length
        + " connections, "
        + streams.size()
        + " streams)";
  }
}
