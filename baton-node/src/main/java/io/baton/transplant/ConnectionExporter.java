package io.baton.transplant;

import io.baton.linux.LinuxException;
import io.baton.linux.SocketFilters;
import io.baton.linux.Sockets;
import io.baton.linux.TcpInfo;
import io.baton.linux.TcpRepair;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Takes the state of a live, established TCP socket so that another host can continue it.
 *
 * <p>Two steps, because the caller may need to act between them (e.g. install a forwarding entry):
 * {@link #freeze} attaches a drop-all socket filter, so the local kernel stops processing the
 * client's packets (they will be retransmitted, never reset); once the client's packets go
 * elsewhere, {@link Frozen#dropOutput} marks the socket's output ({@link #FROZEN_MARK}) for the
 * forwarding table to drop; then {@link Frozen#export} switches repair mode on and reads sequence
 * numbers, options, window, timestamp and both queues. The frozen socket is then either {@linkplain
 * Frozen#release released} (closed in repair mode: no FIN, no RST reach the client) once the new
 * owner has it, or {@linkplain Frozen#resume resumed} (repair off, filter detached) when the move
 * is abandoned, in which case the connection simply continues here.
 *
 * <p>ESTABLISHED and CLOSE_WAIT connections move. In CLOSE_WAIT the client has sent its FIN (a
 * request followed by {@code shutdown(SHUT_WR)}) and still reads: the state records the FIN ({@link
 * ConnectionState#finReceived}) and the restorer re-creates it. Connections where this side has
 * sent its FIN (FIN_WAIT*, CLOSING, LAST_ACK, TIME_WAIT) are refused before anything is changed:
 * their FIN is in flight or acknowledged and the application is done with them.
 *
 * <p>Stateless; a {@link Frozen} is confined to the thread that owns the socket.
 */
public final class ConnectionExporter {
  /**
   * The mark ({@code SO_MARK}) a frozen socket's output carries from {@link Frozen#dropOutput}
   * until it is resumed or closed: the dispatcher's forwarding table drops every packet with this
   * mark on the front interface (netdev egress). A frozen socket's own timers (pacing, tail-loss
   * probe, window probe) may still transmit never-sent bytes; a client that acknowledges them
   * deadlocks the new owner (docs/design.md, the handoff sequence). Marking the socket costs one
   * system call and no nf_tables transaction, where an element per flow in a set cost one to add
   * and one to remove for every handoff.
   */
  public static final int FROZEN_MARK = 0xba700001;

  private static final int MAX_EXPORT_ATTEMPTS = 4;

  private ConnectionExporter() {}

  /**
   * Stops the local kernel from processing packets of {@code fd}. Throws, with the socket left
   * unchanged, when the connection is neither ESTABLISHED nor CLOSE_WAIT.
   */
  public static Frozen freeze(int fd) throws TransplantException {
    FlowKey flow;
    try {
      flow = FlowKey.of(Sockets.peerAddress(fd), Sockets.localAddress(fd));
    } catch (LinuxException e) {
      throw new TransplantException(
          "cannot read the addresses of socket " + fd + ": " + e.getMessage(), e);
    }
    return freeze(fd, flow);
  }

  /**
   * As {@link #freeze(int)}, for a caller that knows the socket's addresses already (the
   * dispatcher's channel does): two system calls fewer. {@code flow} must be the socket's own
   * (client = peer, local = this side); the exported state carries it.
   */
  public static Frozen freeze(int fd, FlowKey flow) throws TransplantException {
    TcpInfo info;
    try {
      info = TcpInfo.of(fd);
      checkMovable(fd, info);
      SocketFilters.attachDropAll(fd);
    } catch (LinuxException e) {
      throw new TransplantException("cannot freeze socket " + fd + ": " + e.getMessage(), e);
    }
    return new Frozen(fd, flow, info);
  }

  /** Returns whether the peer's FIN was received (CLOSE_WAIT); throws for unmovable states. */
  private static boolean checkMovable(int fd, TcpInfo info) throws TransplantException {
    return switch (info.state()) {
      case TcpInfo.STATE_ESTABLISHED -> false;
      case TcpInfo.STATE_CLOSE_WAIT -> true;
      default -> {
        String why =
            switch (info.state()) {
              case TcpInfo.STATE_FIN_WAIT1, TcpInfo.STATE_FIN_WAIT2 ->
                  " (this side already sent FIN)";
              case TcpInfo.STATE_CLOSING, TcpInfo.STATE_LAST_ACK ->
                  " (both sides already sent FIN)";
              case TcpInfo.STATE_TIME_WAIT -> " (the connection is over)";
              default -> "";
            };
        throw new TransplantException(
            "socket "
                + fd
                + " is "
                + TcpInfo.stateName(info.state())
                + why
                + ": only ESTABLISHED and CLOSE_WAIT connections can be moved");
      }
    };
  }

  /**
   * A socket whose incoming packets are being dropped, ready to be exported. Confined to the thread
   * that owns the socket.
   */
  public static final class Frozen {
    private final int fd;
    private final FlowKey flow;
    private boolean repair;
    private boolean marked;
    private boolean done;
    // The TCP_INFO read just before the filter went on, for the first snapshot; null once used.
    private TcpInfo beforeFilter;

    private Frozen(int fd, FlowKey flow, TcpInfo beforeFilter) {
      this.fd = fd;
      this.flow = flow;
      this.beforeFilter = beforeFilter;
    }

    public int fd() {
      return fd;
    }

    /** The socket's connection (client = peer). */
    public FlowKey flow() {
      return flow;
    }

    /**
     * Marks the socket's output ({@link #FROZEN_MARK}) so that the forwarding table drops it: from
     * now on nothing this copy sends reaches the client. Call once the client's packets go to the
     * new owner and before {@link #export}; a no-op the second time.
     */
    public void dropOutput() throws TransplantException {
      checkOpen();
      if (marked) return;
      try {
        Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_MARK, FROZEN_MARK, "SO_MARK");
        marked = true;
      } catch (LinuxException e) {
        throw new TransplantException("cannot mark socket " + fd + " frozen: " + e.getMessage(), e);
      }
    }

    /**
     * Switches repair mode on and reads the connection's state.
     *
     * @param alreadyRead bytes the application had read from the socket and wants the new owner to
     *     receive again (e.g. a request head that was peeked for routing); they are put in front of
     *     the kernel's unread bytes
     */
    public ConnectionState export(byte[] alreadyRead) throws TransplantException {
      checkOpen();
      try {
        if (!repair) {
          TcpRepair.on(fd);
          repair = true;
        }
        // A segment that passed the filter just before it was attached may still be processed;
        // read until the counters after a snapshot still match it.
        for (int attempt = 1; ; attempt++) {
          // The first snapshot starts from the freeze's TCP_INFO, read before the filter went on:
          // a segment taken between that read and the filter changes the counters like one taken
          // during the snapshot, and after the filter none is taken (see stillCurrent). One
          // TCP_INFO read fewer per export.
          TcpInfo first = beforeFilter != null ? beforeFilter : TcpInfo.of(fd);
          beforeFilter = null;
          Snapshot snapshot = Snapshot.take(fd, first);
          if (snapshot.stillCurrent(fd)) {
            // A FIN that slipped past the filter may have moved ESTABLISHED to CLOSE_WAIT.
            boolean finReceived = checkMovable(fd, snapshot.info);
            return snapshot.toState(fd, flow, alreadyRead, finReceived);
          }
          if (attempt >= MAX_EXPORT_ATTEMPTS) {
            throw new TransplantException(
                "socket " + fd + " kept changing during export (" + attempt + " attempts)");
          }
        }
      } catch (LinuxException e) {
        throw new TransplantException("cannot export socket " + fd + ": " + e.getMessage(), e);
      }
    }

    /** Closes the socket silently (repair mode: no FIN, no RST). The new owner has it now. */
    public void release() throws TransplantException {
      checkOpen();
      done = true;
      try {
        if (!repair) {
          TcpRepair.on(fd);
          repair = true;
        }
        Sockets.close(fd);
      } catch (LinuxException e) {
        Sockets.closeQuietly(fd);
        throw new TransplantException(
            "cannot release socket " + fd + " silently: " + e.getMessage(), e);
      }
    }

    /**
     * Like {@link #release}, for a descriptor whose owner closes it (e.g. a Netty channel, which
     * must close the fd it holds itself): makes sure repair mode is on, so that the owner's close
     * sends neither FIN nor RST.
     */
    public void prepareSilentClose() throws TransplantException {
      checkOpen();
      done = true;
      try {
        if (!repair) {
          TcpRepair.on(fd);
          repair = true;
        }
      } catch (LinuxException e) {
        throw new TransplantException(
            "cannot prepare socket " + fd + " for a silent close: " + e.getMessage(), e);
      }
    }

    /**
     * Abandons the move: the frozen mark off (first, so the window probe leaves), repair off (with
     * a window probe so the client retransmits promptly) and filter detached. The connection
     * continues on this socket.
     */
    public void resume() throws TransplantException {
      checkOpen();
      done = true;
      try {
        if (marked) {
          // Baton never marks its sockets otherwise: 0 is what the socket had before.
          Sockets.setInt(fd, Sockets.SOL_SOCKET, Sockets.SO_MARK, 0, "SO_MARK");
          marked = false;
        }
        if (repair) {
          TcpRepair.off(fd, true);
          repair = false;
        }
        SocketFilters.detach(fd);
      } catch (LinuxException e) {
        throw new TransplantException("cannot resume socket " + fd + ": " + e.getMessage(), e);
      }
    }

    private void checkOpen() {
      if (done) throw new IllegalStateException("socket " + fd + " already released or resumed");
    }
  }

  /** One consistent read of the kernel's view; taken in repair mode. */
  private record Snapshot(
      TcpInfo info,
      int mss,
      int timestamp,
      TcpRepair.Window window,
      int receiveNextSeq,
      byte[] unread,
      int sendNextSeq,
      byte[] sendQueue,
      int unsent) {

    /** Reads the rest of the state after {@code info}, the socket's TCP_INFO. */
    static Snapshot take(int fd, TcpInfo info) throws LinuxException, TransplantException {
      int mss = TcpRepair.maxSegment(fd);
      int timestamp = TcpRepair.timestamp(fd);
      TcpRepair.Window window = TcpRepair.window(fd);
      int inq = Sockets.ioctlInt(fd, Sockets.SIOCINQ, "SIOCINQ");
      int outq = Sockets.ioctlInt(fd, Sockets.SIOCOUTQ, "SIOCOUTQ");
      // tcpi_notsent_bytes is write_seq - snd_nxt, what SIOCOUTQNSD answers (one call fewer).
      int unsent = info.notsentBytes();
      TcpRepair.selectQueue(fd, TcpRepair.TCP_RECV_QUEUE);
      int rcvNxt = TcpRepair.queueSeq(fd);
      byte[] unread = peek(fd, inq, "receive");
      TcpRepair.selectQueue(fd, TcpRepair.TCP_SEND_QUEUE);
      int writeSeq = TcpRepair.queueSeq(fd);
      byte[] sendQueue = peek(fd, outq, "send");
      // The send queue stays selected: only a peek or a write in repair mode would use it, and
      // the socket is next closed in repair mode or leaves it (TCP_REPAIR off ignores the choice,
      // on again resets it). One setsockopt fewer per export.
      return new Snapshot(
          info, mss, timestamp, window, rcvNxt, unread, writeSeq, sendQueue, unsent);
    }

    /** Reads {@code length} bytes of the selected queue without consuming them. */
    private static byte[] peek(int fd, int length, String queue)
        throws LinuxException, TransplantException {
      if (length == 0) return new byte[0];
      if (length > ConnectionState.MAX_QUEUE_BYTES) {
        throw new TransplantException(
            "socket "
                + fd
                + " "
                + queue
                + " queue holds "
                + length
                + " bytes, over the "
                + ConnectionState.MAX_QUEUE_BYTES
                + "-byte limit");
      }
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment buf = arena.allocate(length);
        int n = Sockets.recv(fd, buf, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
        if (n != length) {
          throw new TransplantException(
              "socket " + fd + " " + queue + " queue: peeked " + n + " of " + length + " bytes");
        }
        return buf.toArray(ValueLayout.JAVA_BYTE);
      }
    }

    /**
     * Whether the connection is still as it was when this snapshot began, i.e. no segment that
     * slipped past the filter before it was attached changed it while it was being read. One
     * TCP_INFO read tells: the kernel counts every segment it takes for the socket in {@code
     * tcpi_segs_in} (tcp_v4_rcv, under the socket lock, after the filter and before the segment is
     * processed or put on the backlog) and every segment it sends in {@code tcpi_segs_out}; the
     * byte counters and the state change only with them. The snapshot's TCP_INFO was read before
     * the rest (the first snapshot's before the filter was attached, at the freeze), so any change
     * to the queues or sequence numbers read after it shows here. (This replaced re-reading both
     * sequence numbers and the three queue lengths: eight system calls fewer per export.)
     */
    boolean stillCurrent(int fd) throws LinuxException {
      TcpInfo now = TcpInfo.of(fd);
      return now.state() == info.state()
          && now.segsIn() == info.segsIn()
          && now.segsOut() == info.segsOut()
          && now.bytesReceived() == info.bytesReceived()
          && now.bytesAcked() == info.bytesAcked()
          && now.bytesSent() == info.bytesSent()
          && now.notsentBytes() == info.notsentBytes();
    }

    /**
     * The state of this snapshot. With {@code finReceived}, {@code rcv_nxt} (and with it {@code
     * tcpi_bytes_received}, which the kernel advances by a segment's end_seq) counts the FIN, while
     * SIOCINQ and the peeked queue do not: the FIN takes a sequence number, no byte.
     */
    ConnectionState toState(int fd, FlowKey flow, byte[] alreadyRead, boolean finReceived)
        throws TransplantException {
      byte[] receiveQueue = new byte[alreadyRead.length + unread.length];
      System.arraycopy(alreadyRead, 0, receiveQueue, 0, alreadyRead.length);
      System.arraycopy(unread, 0, receiveQueue, alreadyRead.length, unread.length);
      int sendUnacked = sendNextSeq - sendQueue.length;
      var options =
          new ConnectionState.TcpOptions(
              info.timestamps(),
              info.sack(),
              info.windowScaling(),
              info.windowScaling() ? info.sndWscale() : 0,
              info.windowScaling() ? info.rcvWscale() : 0);
      try {
        return new ConnectionState(
            flow,
            (int) (sendUnacked - info.bytesAcked() - 1),
            sendNextSeq,
            (int) (receiveNextSeq - info.bytesReceived() - 1),
            receiveNextSeq,
            new ConnectionState.Window(
                window.sndWl1(),
                window.sndWnd(),
                window.maxWindow(),
                window.rcvWnd(),
                window.rcvWup()),
            mss,
            options,
            timestamp,
            receiveQueue,
            alreadyRead.length,
            sendQueue,
            unsent,
            finReceived);
      } catch (IllegalArgumentException e) {
        throw new TransplantException(
            "socket " + fd + " has a state Baton cannot carry: " + e.getMessage(), e);
      }
    }
  }
}
