package io.baton.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.baton.dataplane.DirectForwardingTable.Forward;
import io.baton.dataplane.DirectForwardingTable.Op;
import io.baton.dataplane.DirectForwardingTable.Retire;
import io.baton.dataplane.DirectForwardingTable.Unforward;
import io.baton.linux.LinuxException;
import io.baton.transplant.FlowKey;
import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The BPF flow map's copy of the forwarding table, with a fake map: entries of every server, the
 * encap flag for servers behind a router, and a handoff's forward put ahead of its commit without
 * an older change overtaking it.
 */
class FlowMirrorTest {
  private static final InetAddress S1 = ip("198.18.1.11"), S2 = ip("198.18.1.12");
  private static final InetAddress ROUTED = ip("198.19.7.11"), S6 = ip("2001:2::11");
  private static final FlowKey FLOW = new FlowKey(ip("198.18.0.2"), 40001, ip("198.18.0.100"), 80);
  private static final Duration GRACE = Duration.ofSeconds(2);

  /** What the kernel's map would hold: server and whether it is wrapped or closing. */
  record Held(InetAddress server, boolean encap, boolean closing) {}

  private final Map<FlowKey, Held> map = new HashMap<>();
  private int puts;

  private final FlowMirror.TcpFlows fake =
      new FlowMirror.TcpFlows() {
        @Override
        public void putTcp(
            FlowKey flow, InetAddress server, boolean encap, boolean closing, int id) {
          puts++;
          map.put(flow, new Held(server, encap, closing));
        }

        @Override
        public boolean removeTcp(FlowKey flow) {
          return map.remove(flow) != null;
        }
      };

  private final FlowMirror mirror = new FlowMirror(fake, Set.of(ROUTED)::contains);

  @Test
  void everyServersEntriesAreCopiedTheRoutedOnesWrapped() {
    mirror.applied(List.of(new Forward(FLOW, S1, false)), 0);
    assertThat(map).containsEntry(FLOW, new Held(S1, false, false));
    mirror.applied(List.of(new Retire(FLOW, S1, GRACE, false)), 0);
    assertThat(map).as("a direct close: the late packets are nftables'").doesNotContainKey(FLOW);

    mirror.applied(List.of(new Forward(FLOW, ROUTED, true)), 0);
    assertThat(map).containsEntry(FLOW, new Held(ROUTED, true, false));

    mirror.applied(List.of(new Retire(FLOW, ROUTED, GRACE, false)), 0);
    assertThat(map).containsEntry(FLOW, new Held(ROUTED, true, true));
    mirror.expire(GRACE.toNanos() - 1);
    assertThat(map).containsKey(FLOW);
    mirror.expire(GRACE.toNanos());
    assertThat(map).doesNotContainKey(FLOW);
  }

  @Test
  void aForwardPutAheadIsNotOvertakenByTheCloseOfTheConnectionBeforeIt() {
    // The 4-tuple's previous connection (to S1) closed; its close is planned but not committed
    // when a new connection on the same 4-tuple is handed to S2.
    mirror.applied(List.of(new Forward(FLOW, S1, false)), 0);
    FlowMirror.Ahead ahead = mirror.putAhead(FLOW, S2, 2);
    assertThat(ahead).isNotNull();
    assertThat(map).containsEntry(FLOW, new Held(S2, false, false));

    // Planned before the new forward, committed after the entry went into the map: skipped.
    Op oldClose = new Retire(FLOW, S1, GRACE, false);
    Forward forward = new Forward(FLOW, S2, true);
    mirror.claim(ahead, forward);
    int before = puts;
    mirror.applied(List.of(oldClose, forward), 0);
    assertThat(map).containsEntry(FLOW, new Held(S2, false, false));
    assertThat(puts).as("the forward put ahead is not put again").isEqualTo(before);
    assertThat(mirror.pendingAhead()).isZero();

    // The old close's grace ends: the new connection's entry stays.
    mirror.expire(GRACE.toNanos() * 2);
    assertThat(map).containsEntry(FLOW, new Held(S2, false, false));

    // Changes planned after the forward apply again: the new connection's own close, which takes
    // a direct entry out of the map (its late packets meet nftables' late map).
    mirror.applied(List.of(new Retire(FLOW, S2, GRACE, false)), 10);
    assertThat(map).doesNotContainKey(FLOW);
  }

  @Test
  void aChangeCommittedBetweenThePutAndTheClaimIsOlderAndSkipped() {
    mirror.applied(List.of(new Forward(FLOW, S1, false)), 0);
    FlowMirror.Ahead ahead = mirror.putAhead(FLOW, S2, 2);
    // Another thread's turn (a dead server's entries, say) commits before the forward is planned.
    mirror.applied(List.of(new Unforward(FLOW)), 0);
    assertThat(map).containsEntry(FLOW, new Held(S2, false, false));
    Forward forward = new Forward(FLOW, S2, true);
    mirror.claim(ahead, forward);
    mirror.applied(List.of(forward), 0);
    assertThat(map).containsEntry(FLOW, new Held(S2, false, false));
  }

  @Test
  void aCancelledHandoffsEntryLeavesTheMapWithItsCommit() {
    FlowMirror.Ahead ahead = mirror.putAhead(FLOW, S1, 1);
    Forward forward = new Forward(FLOW, S1, false);
    mirror.claim(ahead, forward);
    mirror.applied(List.of(forward, new Unforward(FLOW)), 0);
    assertThat(map).doesNotContainKey(FLOW);
  }

  @Test
  void aForwardTheTableRefusedStillForwardsAndLaterChangesApply() {
    FlowMirror.Ahead ahead = mirror.putAhead(FLOW, S1, 1);
    Forward forward = new Forward(FLOW, S1, false);
    mirror.claim(ahead, forward);
    mirror.notApplied(List.of(forward));
    assertThat(map).containsEntry(FLOW, new Held(S1, false, false));
    assertThat(mirror.pendingAhead()).isZero();
    mirror.applied(List.of(new Retire(FLOW, S1, GRACE, false)), 0);
    assertThat(map).doesNotContainKey(FLOW);
  }

  @Test
  void aForwardPutAheadIsPlannedOnceWhoeverPlansItFirst() {
    FlowMirror.Ahead ahead = mirror.putAhead(FLOW, S1, 7);
    assertThat(mirror.unplanned(FLOW, 8)).as("another handoff's token").isNull();
    assertThat(mirror.unplanned(FLOW, 7)).isSameAs(ahead);
    assertThat(mirror.unplannedTo(S1)).containsExactly(ahead);
    assertThat(mirror.unplannedTo(S2)).isEmpty();
    assertThat(mirror.startPlanning(ahead)).isTrue();
    assertThat(mirror.startPlanning(ahead)).as("its own batch, later: nothing to plan").isFalse();
    assertThat(mirror.unplanned(FLOW, 7)).isNull();
    assertThat(mirror.unplannedTo(S1)).isEmpty();
  }

  @Test
  void whatTheMapCannotForwardIsNotPutAhead() {
    // An IPv4 connection to an IPv6 fabric address: nftables refuses it too.
    assertThat(mirror.putAhead(FLOW, S6, 6)).isNull();
    assertThat(map).isEmpty();
    assertThat(mirror.putAheadCount()).isZero();
  }

  @Test
  void aFailedPutLeavesTheHandoffToTheCommit() {
    var failing =
        new FlowMirror(
            new FlowMirror.TcpFlows() {
              @Override
              public void putTcp(
                  FlowKey flow, InetAddress server, boolean encap, boolean closing, int id)
                  throws LinuxException {
                throw new LinuxException("bpf(BPF_MAP_UPDATE_ELEM)", "E2BIG: the map is full");
              }

              @Override
              public boolean removeTcp(FlowKey flow) {
                return false;
              }
            },
            s -> false);
    assertThat(failing.putAhead(FLOW, S1, 1)).isNull();
    assertThat(failing.failures()).isEqualTo(1);
    assertThat(failing.pendingAhead()).isZero();
  }

  private static InetAddress ip(String text) {
    try {
      return InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
