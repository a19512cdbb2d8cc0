package io.baton.config;

import java.net.Inet4Address;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How a dispatcher announces its VIPs by BGP ({@code announce.bgp}): a BIRD 2 daemon that Baton
 * configures and runs, announcing every VIP address as a /32 to each neighbor while the dispatcher
 * runs, withdrawing them when it stops or dies. Immutable.
 *
 * @param localAs this dispatcher's AS number (dispatchers of one farm usually share one)
 * @param routerId the BGP router id; by default the front address
 * @param neighbors the routers to peer with
 * @param holdTime BGP hold time (keepalives every third of it)
 */
public record BgpConfig(
    long localAs, Inet4Address routerId, List<Neighbor> neighbors, Duration holdTime) {
  public static final Duration DEFAULT_HOLD_TIME = Duration.ofSeconds(3);

  /** A BGP neighbor: its address and AS number. */
  public record Neighbor(Inet4Address address, long as) {
    public Neighbor {
      Objects.requireNonNull(address, "address");
    }
  }

  public BgpConfig {
    Objects.requireNonNull(routerId, "routerId");
    neighbors = List.copyOf(neighbors);
    Objects.requireNonNull(holdTime, "holdTime");
  }
}
