package io.baton.linux;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify's datagram, received on a socket standing in for systemd's. */
class SdNotifyTest {
  @TempDir Path dir;

  @Test
  void aStateArrivesAsOneDatagram() throws Exception {
    Path socket = dir.resolve("notify");
    int fd = UnixSockets.bindDatagram(socket);
    try {
      SdNotify.send(socket.toString(), "MAINPID=1234\nREADY=1");
      UnixSockets.Message m = UnixSockets.receive(fd, 256);
      assertThat(new String(m.bytes(), UTF_8)).isEqualTo("MAINPID=1234\nREADY=1");
    } finally {
      Sockets.closeQuietly(fd);
    }
  }

  @Test
  void noSocketNoNotificationAndABadNameIsAnError() {
    assertThatThrownBy(() -> SdNotify.send(dir.resolve("nobody").toString(), "READY=1"))
        .isInstanceOf(LinuxException.class)
        .hasMessageContaining("No such file");
    assertThatThrownBy(() -> SdNotify.send("", "READY=1"))
        .hasMessageContaining("not a socket name");
  }
}
