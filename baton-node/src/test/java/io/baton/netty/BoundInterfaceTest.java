package io.baton.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import java.io.IOException;
import java.net.NetworkInterface;
import org.junit.jupiter.api.Test;

class BoundInterfaceTest {
  @Test
  void findsAnInterfaceByNameAndNamesOneThatIsMissing() throws Exception {
    assertThat(BoundInterface.indexOf("lo")).isEqualTo(NetworkInterface.getByName("lo").getIndex());
    assertThatThrownBy(() -> BoundInterface.indexOf("no-such-if0"))
        .isInstanceOf(IOException.class)
        .hasMessage("no interface no-such-if0 in this network namespace");
  }

  @Test
  void anInterfaceThatCanBeBoundAndUnboundGivesItsIndex() throws Exception {
    // The suite runs as root, with CAP_NET_RAW (UnitCapabilitiesLabTest covers its absence).
    assertThat(BoundInterface.unbindableIndexOf("lo"))
        .isEqualTo(NetworkInterface.getByName("lo").getIndex());
    assertThatThrownBy(() -> BoundInterface.unbindableIndexOf("no-such-if0"))
        .isInstanceOf(IOException.class)
        .hasMessage("no interface no-such-if0 in this network namespace");
  }

  @Test
  void aListenerIsBoundAndUnboundThroughTheChannelOption() throws Exception {
    Epoll.ensureAvailability();
    EpollServerSocketChannel ch = new EpollServerSocketChannel(SocketProtocolFamily.INET);
    try {
      int lo = BoundInterface.indexOf("lo");
      assertThat(ch.config().getOption(BoundInterface.SO_BINDTOIFINDEX)).isZero();
      assertThat(ch.config().setOption(BoundInterface.SO_BINDTOIFINDEX, lo)).isTrue();
      assertThat(ch.config().getOption(BoundInterface.SO_BINDTOIFINDEX)).isEqualTo(lo);
      ch.config().setOption(BoundInterface.SO_BINDTOIFINDEX, BoundInterface.UNBOUND);
      assertThat(ch.config().getOption(BoundInterface.SO_BINDTOIFINDEX)).isZero();
    } finally {
      ch.unsafe().closeForcibly();
    }
  }
}
