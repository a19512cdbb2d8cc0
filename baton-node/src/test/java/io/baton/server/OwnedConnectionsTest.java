package io.baton.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.handoff.FabricMessage;
import io.baton.transplant.FlowKey;
import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** What a server knows about the connections it took: per dispatcher, open and recently closed. */
class OwnedConnectionsTest {
  private final OwnedConnections owned = new OwnedConnections();

  @Test
  void theInventoryListsEveryOpenConnectionWhicheverDispatcherHandedItOver() throws Exception {
    FlowKey a = flow(40000);
    FlowKey b = flow(40001);
    owned.opened("d1", 1, a);
    owned.opened("d1", 2, b);
    owned.opened("d2", 1, flow(40002));
    owned.closed("d1", 2);

    assertThat(owned.all())
        .containsExactlyInAnyOrder(
            new FabricMessage.Owned(a, 1), new FabricMessage.Owned(flow(40002), 1));
    assertThat(owned.size()).isEqualTo(2);
  }

  @Test
  void aClosedConnectionStillCountsAsTakenForALateAbort() throws Exception {
    owned.opened("d1", 7, flow(40000));
    owned.closed("d1", 7);
    assertThat(owned.took("d1", 7)).isTrue();
    assertThat(owned.took("d2", 7)).as("another dispatcher's id space").isFalse();
    assertThat(owned.took("d1", 8)).isFalse();
  }

  @Test
  void recentlyClosedHandoffsAreBounded() throws Exception {
    for (int i = 0; i < OwnedConnections.RECENTLY_CLOSED + 10; i++) {
      owned.opened("d1", i, flow(1 + i % 60000));
      owned.closed("d1", i);
    }
    assertThat(owned.took("d1", 0)).as("the oldest are forgotten").isFalse();
    assertThat(owned.took("d1", OwnedConnections.RECENTLY_CLOSED + 9)).isTrue();
    assertThat(owned.size()).isZero();
  }

  private static FlowKey flow(int port) throws Exception {
    return new FlowKey(
        (Inet4Address) InetAddress.getByName("198.18.0.10"),
        port,
        (Inet4Address) InetAddress.getByName("198.18.0.100"),
        80);
  }
}
