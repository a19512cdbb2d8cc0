package io.baton.transplant;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** When a restore leaves repair mode with a window probe ({@link ConnectionRestorer}). */
class WindowProbeTest {
  @Test
  void aConnectionMovedAtItsFirstRequestNeedsNone() {
    assertThat(ConnectionRestorer.needsWindowProbe(state(new byte[0], 0, 64240, false))).isFalse();
  }

  @Test
  void bytesToSendAShutWindowOrAFinNeedOne() {
    assertThat(ConnectionRestorer.needsWindowProbe(state(new byte[6], 0, 64240, false)))
        .as("bytes in flight")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(new byte[6], 6, 64240, false)))
        .as("bytes never sent")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(new byte[0], 0, 0, false)))
        .as("the client's window shut")
        .isTrue();
    assertThat(ConnectionRestorer.needsWindowProbe(state(new byte[0], 0, 64240, true)))
        .as("the client's FIN to re-create")
        .isTrue();
  }

  private static ConnectionState state(byte[] sendQueue, int unsent, int sndWnd, boolean fin) {
    int rcvNxt = fin ? 5105 : 5104;
    return new ConnectionState(
        flow(),
        100,
        206,
        5000,
        rcvNxt,
        new ConnectionState.Window(5000, sndWnd, 1 << 21, 65535, rcvNxt),
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
