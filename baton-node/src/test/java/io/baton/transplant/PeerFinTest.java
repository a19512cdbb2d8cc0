package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.linux.TcpRepair;
import io.baton.linux.TcpSegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** The pure half of {@link PeerFin}: the window to restore and the FIN segment to send. */
class PeerFinTest {
  private static final int RCV_NXT = 5104; // counts the FIN when one was received

  @Test
  void windowIsRestoredAsExportedWithoutAFin() {
    ConnectionState s = state(false, RCV_NXT, 1 << 20);
    assertThat(PeerFin.windowBeforeFin(s))
        .isEqualTo(new TcpRepair.Window(5000, 1 << 20, 1 << 21, 65535, RCV_NXT));
  }

  @Test
  void rcvWupCountingTheFinMovesBackAndTheWindowKeepsItsRightEdge() {
    ConnectionState s = state(true, RCV_NXT, 1 << 20);
    TcpRepair.Window w = PeerFin.windowBeforeFin(s);
    assertThat(w.rcvWup()).as("not after the wound-back rcv_nxt").isEqualTo(RCV_NXT - 1);
    assertThat(w.rcvWup() + w.rcvWnd()).isEqualTo(RCV_NXT + 65535);
    assertThat(w.sndWl1()).isEqualTo(5000);
  }

  @Test
  void anOlderRcvWupIsLeftAlone() {
    ConnectionState s = state(true, RCV_NXT - 100, 1 << 20);
    assertThat(PeerFin.windowBeforeFin(s).rcvWup()).isEqualTo(RCV_NXT - 100);
    assertThat(PeerFin.windowBeforeFin(s).rcvWnd()).isEqualTo(65535);
  }

  @Test
  void finComesFromTheClientAtItsOwnSequenceNumber() {
    ConnectionState s = state(true, RCV_NXT, 1 << 20);
    TcpSegment fin = PeerFin.segment(s);
    assertThat(fin.source()).isEqualTo(s.flow().client());
    assertThat(fin.destination()).isEqualTo(s.flow().local());
    assertThat(fin.seq()).isEqualTo(RCV_NXT - 1);
    assertThat(fin.ack()).as("snd_una").isEqualTo(s.sendUnackedSeq()).isEqualTo(200);
    assertThat(fin.flags()).isEqualTo(TcpSegment.FIN | TcpSegment.ACK);
    assertThat(fin.window()).as("1 MiB >> 7").isEqualTo(8192);
    assertThat(fin.timestamp()).isEqualTo(new TcpSegment.Timestamp(0, 987654));
  }

  @Test
  void windowFieldIsClampedAndTimestampsLeftOutWhenNotNegotiated() {
    ConnectionState s =
        new ConnectionState(
            flow(),
            100,
            206,
            5000,
            RCV_NXT,
            new ConnectionState.Window(5000, -1, -1, 65535, RCV_NXT),
            1448,
            new ConnectionState.TcpOptions(false, true, false, 0, 0),
            0,
            new byte[4],
            0,
            new byte[6],
            0,
            true);
    TcpSegment fin = PeerFin.segment(s);
    assertThat(fin.window()).as("a u32 window without scaling").isEqualTo(0xffff);
    assertThat(fin.timestamp()).isNull();
  }

  /**
   * The restore's window probe: {@link PeerFin} relies on it, so a re-created FIN asks for one; a
   * connection moved at its first request (nothing sent, the client's first window) needs none.
   */
  @Test
  void aWindowProbeOnlyWhereItTellsTheSocketSomething() {
    assertThat(ConnectionRestorer.needsWindowProbe(state(false, RCV_NXT, 64240, new byte[0], 0)))
        .as("moved at its first request")
        .isFalse();
    assertThat(ConnectionRestorer.needsWindowProbe(state(false, RCV_NXT, 64240, new byte[6], 0)))
        .as("bytes in flight")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(false, RCV_NXT, 64240, new byte[6], 6)))
        .as("bytes never sent")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(false, RCV_NXT, 0, new byte[0], 0)))
        .as("the client's window shut")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(true, RCV_NXT, 64240, new byte[0], 0)))
        .as("the client's FIN to re-create")
        .isTrue();
  }

  private static ConnectionState state(boolean fin, int rcvWup, int sndWnd) {
    return state(fin, rcvWup, sndWnd, new byte[6], 0);
  }

  private static ConnectionState state(
      boolean fin, int rcvWup, int sndWnd, byte[] sendQueue, int unsent) {
    return new ConnectionState(
        flow(),
        100,
        206,
        5000,
        RCV_NXT,
        new ConnectionState.Window(5000, sndWnd, 1 << 21, 65535, rcvWup),
        1448,
        new ConnectionState.TcpOptions(true, true, true, 7, 7),
        987654,
        new byte[] {'G', 'E', 'T', ' '},
        0,
        sendQueue,
        unsent,
        fin);
  }

  private static FlowKey flow() {
    try {
      return new FlowKey(
          (Inet4Address) InetAddress.getByName("198.18.0.2"),
          51000,
          (Inet4Address) InetAddress.getByName("198.18.0.100"),
          80);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
