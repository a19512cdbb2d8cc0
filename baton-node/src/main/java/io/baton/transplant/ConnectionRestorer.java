package io.baton.transplant;

import io.baton.linux.Errno;
import io.baton.linux.LinuxException;
import io.baton.linux.Sockets;
import io.baton.linux.TcpRepair;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Re-creates an exported TCP connection as a new local socket, following the order CRIU's libsoccr
 * uses and the pitfalls found on real kernels (see docs/design.md):
 *
 * <ol>
 *   <li>socket, {@code IP_TRANSPARENT} (before repair: setting reuse options after repair-on
 *       clobbers the forced address reuse repair mode gives), repair on;
 *   <li>send and receive sequence numbers, each wound back by the bytes that will be replayed (the
 *       receive queue is left selected for its replay);
 *   <li>bind to the virtual address, connect to the client (no SYN in repair mode);
 *   <li>{@code TCP_REPAIR_OPTIONS} (without the window scale the peer's window is misread and the
 *       connection stalls), then {@code TCP_TIMESTAMP};
 *   <li>replay the receive queue, then the sent-but-unacknowledged part of the send queue, in
 *       chunks halved on {@code ENOMEM};
 *   <li>{@code TCP_REPAIR_WINDOW}, repair off;
 *   <li>when the peer's FIN had been received (CLOSE_WAIT), re-create it ({@link PeerFin});
 *   <li>only then write the never-sent bytes, as ordinary data.
 * </ol>
 *
 * <p>A CLOSE_WAIT connection is restored as ESTABLISHED with the receive sequence wound back over
 * the FIN (repair mode cannot queue a FIN), as CRIU's libsoccr does; the re-created FIN then moves
 * the socket to CLOSE_WAIT, and the application reads end of stream after the replayed bytes.
 *
 * <p>The socket's namespace is the calling thread's: call this on a thread of the host that is to
 * own the connection. Stateless and thread-safe.
 */
public final class ConnectionRestorer {
  private static final int MAX_CHUNK = 256 * 1024;
  private static final int MIN_CHUNK = 1024;

  private ConnectionRestorer() {}

  /**
   * How a restored socket is set up.
   *
   * @param transparent set {@code IP_TRANSPARENT}, which the server guard's {@code socket
   *     transparent 1} rule recognises
   * @param nonBlocking leave the returned socket non-blocking (e.g. for an event loop)
   * @param windowProbe leave repair mode with a window probe where one is needed ({@link
   *     #needsWindowProbe}), eliciting an ACK from the client that tells the new socket the
   *     client's current window at once
   */
  public record Options(boolean transparent, boolean nonBlocking, boolean windowProbe) {
    public static final Options DEFAULT = new Options(true, true, true);
  }

  /**
   * A restored socket. {@code unsentTail} holds never-sent bytes that did not fit in the socket at
   * once; the new owner must write them before anything else.
   */
  public record Restored(
      int fd, byte[] unsentTail, Timings timings, io.baton.linux.TcpSegment owedAck) {
    /** Whether the client's bytes are still unacknowledged ({@link #owedAck} is their ACK). */
    public boolean ackOwed() {
      return owedAck != null;
    }
  }

  /**
   * The pure ACK the restored socket owes its client when the previous owner never acknowledged
   * what it received (a dispatcher that delays its first ACK): from the VIP, {@code snd_nxt} and
   * {@code rcv_nxt} as restored, the window's right edge where the client last saw it, and the
   * timestamp option with a TSval to fill in when it is sent (the socket's clock then) and TSecr 0
   * (no RTT sample; the client's PAWS looks at TSval only). Null when nothing is owed.
   */
  static io.baton.linux.TcpSegment owedAck(ConnectionState state) {
    if (!state.receivedUnacknowledged()) return null;
    ConnectionState.TcpOptions o = state.options();
    ConnectionState.Window w = state.window();
    long window =
        Integer.toUnsignedLong(w.rcvWup() + w.rcvWnd() - state.receiveNextSeq()) >>> o.rcvWscale();
    return new io.baton.linux.TcpSegment(
        state.flow().local(),
        state.flow().client(),
        state.sendNextSeq(),
        state.receiveNextSeq(),
        io.baton.linux.TcpSegment.ACK,
        (int) Math.min(0xffff, window),
        o.timestamps() ? new io.baton.linux.TcpSegment.Timestamp(0, 0) : null);
  }

  /** Where the time of one restore went, for benchmarks and logs. */
  public record Timings(long totalNs, long replayNs) {}

  public static Restored restore(ConnectionState state, Options options)
      throws TransplantException {
    long start = System.nanoTime();
    int fd;
    try {
      // Non-blocking from the start: nothing below waits (connect in repair mode establishes at
      // once, the replays pass MSG_DONTWAIT), and an event loop wants it so (two fcntl fewer).
      fd = Sockets.tcpSocketFor(state.flow().localIp(), true);
    } catch (LinuxException e) {
      throw failure(state, "socket", e);
    }
    List<String> stage = new ArrayList<>(1);
    stage.add("setup");
    boolean repairOff = false;
    try {
      if (options.transparent()) {
        TcpRepair.setTransparent(fd, Sockets.familyOf(state.flow().localIp()));
      }
      TcpRepair.on(fd);
      stage.set(0, "sequence numbers");
      // The send queue's first, so that the receive queue stays selected for its replay: bind,
      // connect and the options do not change the selection.
      TcpRepair.selectQueue(fd, TcpRepair.TCP_SEND_QUEUE);
      TcpRepair.setQueueSeq(fd, state.sendUnackedSeq());
      TcpRepair.selectQueue(fd, TcpRepair.TCP_RECV_QUEUE);
      TcpRepair.setQueueSeq(fd, state.receiveQueueStartSeq());
      stage.set(0, "bind/connect");
      Sockets.bind(fd, state.flow().local());
      Sockets.connect(fd, state.flow().client());
      stage.set(0, "options");
      setOptions(fd, state);
      long replayStart = System.nanoTime();
      stage.set(0, "receive queue replay");
      replay(fd, state.receiveQueue(), 0, state.receiveQueue().length, Sockets.SO_RCVBUFFORCE);
      if (state.sendQueueUnacked() > 0) {
        stage.set(0, "send queue replay");
        TcpRepair.selectQueue(fd, TcpRepair.TCP_SEND_QUEUE);
        replay(fd, state.sendQueue(), 0, state.sendQueueUnacked(), Sockets.SO_SNDBUFFORCE);
      }
      long replayNs = System.nanoTime() - replayStart;
      stage.set(0, "window");
      // No "no queue" selection first: the window, leaving repair mode and everything after do
      // not look at the selection (only send and recv in repair mode do).
      TcpRepair.setWindow(fd, PeerFin.windowBeforeFin(state));
      stage.set(0, "repair off");
      boolean probe = options.windowProbe() && needsWindowProbe(state);
      TcpRepair.off(fd, probe);
      repairOff = true;
      if (state.finReceived()) {
        stage.set(0, "peer FIN");
        PeerFin.recreate(fd, state);
      }
      stage.set(0, "unsent bytes");
      byte[] tail = writeUnsent(fd, state);
      if (!options.nonBlocking()) {
        Sockets.setNonBlocking(fd, false);
      }
      return new Restored(
          fd,
          tail,
          new Timings(System.nanoTime() - start, replayNs),
          probe || state.sendQueue().length > 0 ? null : owedAck(state));
    } catch (LinuxException | TransplantException e) {
      // A socket in repair mode closes without FIN or RST; past "repair off" turn it back on, so
      // that the connection, which the previous owner may take back, is not reset from here.
      if (repairOff) {
        try {
          TcpRepair.on(fd);
        } catch (LinuxException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      Sockets.closeQuietly(fd);
      if (e instanceof TransplantException t) throw t;
      throw failure(state, stage.get(0), (LinuxException) e);
    }
  }

  /**
   * Whether leaving repair mode should send a window probe, whose answer tells the socket the
   * client's window now: when the socket has bytes to send (in flight or never sent), when the
   * client's window was shut (only a probe or the persist timer would find it open again), and when
   * the client's FIN is to be re-created ({@link PeerFin} relies on the window the probe makes
   * acceptable). Not for a connection moved at its first request, which has sent nothing and whose
   * client's window is its first one: there the probe cost a packet to the client and its answer
   * one more forwarded through the dispatcher, and told the socket nothing it did not have.
   */
  static boolean needsWindowProbe(ConnectionState state) {
    return state.sendQueue().length > 0 || state.window().sndWnd() == 0 || state.finReceived();
  }

  private static void setOptions(int fd, ConnectionState state) throws LinuxException {
    ConnectionState.TcpOptions o = state.options();
    int[] opts = new int[8];
    int n = 0;
    opts[n++] = TcpRepair.TCPOPT_MSS;
    opts[n++] = state.mss();
    if (o.windowScaling()) {
      opts[n++] = TcpRepair.TCPOPT_WINDOW;
      opts[n++] = o.sndWscale() | (o.rcvWscale() << 16);
    }
    if (o.sack()) {
      opts[n++] = TcpRepair.TCPOPT_SACK_PERM;
      opts[n++] = 0;
    }
    if (o.timestamps()) {
      opts[n++] = TcpRepair.TCPOPT_TIMESTAMP;
      opts[n++] = 0;
    }
    TcpRepair.setOptions(fd, java.util.Arrays.copyOf(opts, n));
    if (o.timestamps()) {
      TcpRepair.setTimestamp(fd, state.timestampValue());
    }
  }

  /**
   * Writes {@code bytes[from, from+length)} into the selected repair queue. send() may accept fewer
   * bytes than asked (loop), fail with ENOMEM for large chunks (halve), or find the socket's buffer
   * full; a short replay would leave rcv_nxt behind and make TCP_REPAIR_WINDOW fail. Never blocks:
   * the restore runs on a fabric event loop, and a blocking send into a full repair queue waits for
   * memory that nothing frees (a migrated download's megabytes of unacknowledged data held a
   * server's fabric loop for seconds). A full buffer is grown once, past the sysctl caps ({@code
   * bufferForceOption}, CAP_NET_ADMIN), to hold the queue.
   */
  private static void replay(int fd, byte[] bytes, int from, int length, int bufferForceOption)
      throws LinuxException {
    if (length == 0) return;
    boolean grown = false;
    int chunk = Math.min(MAX_CHUNK, length);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = arena.allocate(length);
      MemorySegment.copy(bytes, from, src, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, length);
      int done = 0;
      while (done < length) {
        int n = Math.min(chunk, length - done);
        int sent;
        try {
          sent = Sockets.send(fd, src.asSlice(done, n), Sockets.MSG_DONTWAIT);
          if (sent == 0) throw new LinuxException("send(repair queue)", "accepted 0 bytes");
        } catch (LinuxException e) {
          if (e.errno() != Errno.ENOMEM) throw e;
          sent = -1;
        }
        if (sent > 0) {
          done += sent;
        } else if (!grown) {
          // The queue is larger than this socket's buffer allows; make room for all of it once.
          Sockets.setInt(
              fd,
              Sockets.SOL_SOCKET,
              bufferForceOption,
              2 * length + (1 << 16),
              "SO_RCVBUFFORCE/SO_SNDBUFFORCE");
          grown = true;
        } else if (chunk > MIN_CHUNK) {
          chunk = Math.max(MIN_CHUNK, chunk / 2);
        } else {
          throw new LinuxException(
              "send(repair queue)",
              "the queue does not fit: " + done + " of " + length + " bytes replayed");
        }
      }
    }
  }

  /** Writes the never-sent bytes as ordinary data, without blocking; returns what did not fit. */
  private static byte[] writeUnsent(int fd, ConnectionState state) throws LinuxException {
    int unsent = state.sendQueueUnsent();
    if (unsent == 0) return new byte[0];
    int from = state.sendQueue().length - unsent;
    int done = 0;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = arena.allocate(unsent);
      MemorySegment.copy(
          state.sendQueue(), from, src, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, unsent);
      while (done < unsent) {
        // Never blocking: the restore runs on a fabric event loop, and a migrated download's
        // never-sent part may be megabytes that a slow client takes seconds to make room for
        // (a blocking send here silenced the loop's heartbeats until the peer gave up on it).
        // What does not fit now is the tail the delivery writes first.
        int sent = Sockets.send(fd, src.asSlice(done), Sockets.MSG_NOSIGNAL | Sockets.MSG_DONTWAIT);
        if (sent < 0) break;
        done += sent;
      }
    }
    return java.util.Arrays.copyOfRange(state.sendQueue(), from + done, state.sendQueue().length);
  }

  private static TransplantException failure(
      ConnectionState state, String stage, LinuxException e) {
    return new TransplantException(
        "cannot restore " + state.flow() + " at " + stage + ": " + e.getMessage(), e);
  }
}
