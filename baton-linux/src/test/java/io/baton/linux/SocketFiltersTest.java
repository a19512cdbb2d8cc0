package io.baton.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The drop-all BPF filter: a frozen socket queues nothing, and nothing is lost when it thaws. */
@PrivateNamespace
class SocketFiltersTest {
  private static PrivateNetns ns; // set by @PrivateNamespace

  /** How a test attaches the drop-all filter. */
  private interface Attach {
    void to(int fd) throws LinuxException;
  }

  /**
   * The shared eBPF program loads on this kernel (run as root): the handoff path attaches it by
   * descriptor instead of compiling a classic filter per socket.
   */
  @Test
  void theSharedEbpfProgramLoads() {
    assertThat(SocketFilters.sharedProgramProblem()).isNull();
  }

  @Test
  void dropAllHoldsBackDataUntilDetachedThenRetransmissionDeliversIt() throws Exception {
    holdsBackDataUntilDetached(SocketFilters::attachDropAll);
  }

  /** The classic filter, used where bpf(2) is refused, holds the same way. */
  @Test
  void theClassicFilterHoldsBackDataUntilDetached() throws Exception {
    holdsBackDataUntilDetached(SocketFilters::attachClassicDropAll);
  }

  private static void holdsBackDataUntilDetached(Attach attach) throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            attach.to(c.server());
            byte[] data = Loopback.bytes(1500);
            Loopback.sendAll(c.client(), data);

            Loopback.await(
                "the client to hold the data", () -> Loopback.outq(c.client()) == data.length);
            Loopback.holdsThroughout(
                "nothing queued at the filtered server while the client keeps the data unacknowledged",
                Duration.ofMillis(300),
                () -> Loopback.inq(c.server()) == 0 && Loopback.outq(c.client()) == data.length);
            assertThat(Sockets.poll(c.server(), Sockets.POLLIN, 0)).isZero();
            TcpInfo frozen = TcpInfo.of(c.client());
            assertThat(frozen.state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
            assertThat(frozen.unacked()).isPositive();

            SocketFilters.detach(c.server());
            Loopback.await(
                "a retransmission to deliver all " + data.length + " bytes",
                () -> Loopback.inq(c.server()) == data.length);
            assertThat(Loopback.recvExactly(c.server(), data.length)).isEqualTo(data);
            Loopback.await(
                "the client's send queue to drain", () -> Loopback.outq(c.client()) == 0);
            assertThat(TcpInfo.of(c.client()).totalRetrans()).isPositive();
            assertThat(TcpInfo.of(c.server()).state()).isEqualTo(TcpInfo.STATE_ESTABLISHED);
          }
        });
  }

  @Test
  void filteredSocketCanStillSend() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            SocketFilters.attachDropAll(c.server());
            Loopback.sendAll(c.server(), new byte[] {1, 2, 3});
            // The filter drops the client's ACKs, not the server's outgoing data.
            assertThat(Loopback.recvExactly(c.client(), 3)).containsExactly(1, 2, 3);
            SocketFilters.detach(c.server());
            Loopback.await(
                "the server's send queue to drain", () -> Loopback.outq(c.server()) == 0);
          }
        });
  }

  @Test
  void detachWithoutAFilterIsEnoent() throws Exception {
    ns.run(
        () -> {
          try (Loopback c = Loopback.open()) {
            assertThatThrownBy(() -> SocketFilters.detach(c.server()))
                .isInstanceOfSatisfying(
                    LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
                .hasMessage(
                    "setsockopt(SO_DETACH_FILTER) failed: No such file or directory (errno 2)");
            SocketFilters.attachDropAll(c.server());
            SocketFilters.detach(c.server());
            assertThatThrownBy(() -> SocketFilters.detach(c.server()))
                .isInstanceOf(LinuxException.class);
          }
        });
  }
}
