package io.baton.transplant;

import io.baton.linux.LinuxException;
import io.baton.linux.RawTcp;
import io.baton.linux.TcpInfo;
import io.baton.linux.TcpRepair;
import io.baton.linux.TcpSegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Re-creates, on a restored socket, the FIN its peer had sent to the previous owner (a client that
 * sent its request and then {@code shutdown(SHUT_WR)}). Repair mode can queue bytes but not a FIN,
 * so, as CRIU's libsoccr does ({@code send_fin} in soccr/soccr.c), the connection is restored as
 * ESTABLISHED with the receive sequence wound back over the FIN and the FIN is then sent to the
 * socket again, from the client's address, through a raw socket. The kernel takes it like the
 * original: the socket moves to CLOSE_WAIT and its reader sees end of stream after the replayed
 * bytes. The client never sees the segment, and had already had its FIN acknowledged.
 *
 * <p>Stateless; call on a thread of the namespace that owns the restored socket.
 */
final class PeerFin {
  /** How long the looped-back FIN may take to be processed; it normally is before send returns. */
  private static final long TAKEN_WITHIN_NS = TimeUnit.SECONDS.toNanos(1);

  private PeerFin() {}

  /**
   * The {@code TCP_REPAIR_WINDOW} values to restore. With a received FIN, {@code rcv_wup} (the
   * {@code rcv_nxt} of the last window update) usually counts the FIN too, and the kernel refuses
   * an {@code rcv_wup} after the wound-back {@code rcv_nxt} (EINVAL in tcp_repair_set_window);
   * libsoccr moves it back and widens {@code rcv_wnd} by as much, so the right edge of the
   * advertised window stays where the client saw it.
   */
  static TcpRepair.Window windowBeforeFin(ConnectionState state) {
    ConnectionState.Window w = state.window();
    int rcvWup = w.rcvWup();
    int rcvWnd = w.rcvWnd();
    int dataEnd = state.receiveDataEndSeq();
    if (state.finReceived() && rcvWup - dataEnd > 0) {
      rcvWnd += rcvWup - dataEnd;
      rcvWup = dataEnd;
    }
    return new TcpRepair.Window(w.sndWl1(), w.sndWnd(), w.maxWindow(), rcvWnd, rcvWup);
  }

  /**
   * The FIN as the restored socket must see it: from the client, with the FIN's own sequence number
   * (where the wound-back receive sequence stands) and FIN|ACK.
   *
   * <ul>
   *   <li>ack = {@code snd_una} of the restored socket: never after {@code snd_nxt} (an "ACK of
   *       unsent data" is dropped together with the FIN, tcp_ack), and an old one is harmless;
   *   <li>window = the client's last window in its unscaled form: the restore's window probe sets
   *       {@code snd_wl1 = rcv_nxt - 1}, so this segment's window is taken as the client's;
   *   <li>timestamps, when negotiated: TSval 0 and TSecr = the socket's clock at export. The
   *       restored socket has no {@code ts_recent} (TCP_REPAIR_OPTIONS turns timestamps on but
   *       leaves it 0), and tcp_paws_check treats a {@code ts_recent} of 0 as "nothing seen": TSval
   *       0 passes PAWS and keeps it so, so the client's next real segment passes too, whatever its
   *       clock. Any other guess could be newer than the client's clock and make PAWS drop all its
   *       later segments.
   * </ul>
   */
  static TcpSegment segment(ConnectionState state) {
    ConnectionState.TcpOptions o = state.options();
    long window = Integer.toUnsignedLong(state.window().sndWnd()) >>> o.sndWscale();
    return new TcpSegment(
        state.flow().client(),
        state.flow().local(),
        state.receiveDataEndSeq(),
        state.sendUnackedSeq(),
        TcpSegment.FIN | TcpSegment.ACK,
        (int) Math.min(0xffff, window),
        o.timestamps() ? new TcpSegment.Timestamp(0, state.timestampValue()) : null);
  }

  /**
   * Sends the FIN to {@code fd} (repair mode off, window set) and waits until the socket has taken
   * it. Throws when it does not within a second, e.g. because a firewall dropped it: the caller
   * then discards the restored socket and the previous owner keeps the connection.
   */
  static void recreate(int fd, ConnectionState state) throws LinuxException, TransplantException {
    TcpSegment fin = segment(state);
    RawTcp.send(fin);
    long deadline = System.nanoTime() + TAKEN_WITHIN_NS;
    int tcpState;
    while ((tcpState = TcpInfo.of(fd).state()) == TcpInfo.STATE_ESTABLISHED) {
      if (System.nanoTime() - deadline > 0) {
        throw new TransplantException(
            "cannot restore "
                + state.flow()
                + ": the re-created client FIN "
                + fin
                + " was not taken by the socket within 1 s (dropped by a firewall on the way in?)");
      }
      LockSupport.parkNanos(50_000);
    }
    if (tcpState != TcpInfo.STATE_CLOSE_WAIT) {
      throw new TransplantException(
          "cannot restore "
              + state.flow()
              + ": after the re-created client FIN the socket is "
              + TcpInfo.stateName(tcpState)
              + ", expected CLOSE_WAIT");
    }
  }
}
