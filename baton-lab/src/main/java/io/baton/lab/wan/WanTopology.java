package io.baton.lab.wan;

import io.baton.lab.Host;
import io.baton.lab.Lab;
import io.baton.lab.Segment;
import java.util.List;

/**
 * Two sites joined by an emulated WAN, for the WAN gateway (split TCP): a client on a LAN behind
 * gateway {@code gwa}, a remote server on a LAN behind gateway {@code gwb}, and between the
 * gateways host {@code wan}, a router whose {@link DelayLine} adds the {@link WanLink}'s delay,
 * loss and rate limit to every packet it forwards.
 *
 * <pre>
 *  client ──lan── gwa ──wana── wan ──wanb── gwb ──rlan── remote
 *  .4.10        .4.1 .5.1   .5.254 .6.254  .6.1 .7.1      .7.10
 * </pre>
 *
 * <p>Segments (and so the interfaces in each host) are {@code lan} 198.18.4.0/24, {@code wana}
 * 198.18.5.0/24, {@code wanb} 198.18.6.0/24 and {@code rlan} 198.18.7.0/24. The client's and gwa's
 * "default" routes, and the remote's, are routes to all of 198.18.0.0/15 ({@link Host#addRoute}
 * refuses anything outside the lab's range, 0.0.0.0/0 included, by design); gwb reaches the A side
 * and wan both sites by specific routes. Forwarding is on in gwa, wan and gwb; everything else
 * keeps the kernel's defaults (IPv6 on).
 *
 * <p>Immutable once built; the hosts and the line are thread-safe. {@link #close} stops the line;
 * the lab deletes the hosts.
 */
public record WanTopology(Host client, Host gwa, Host wan, Host gwb, Host remote, DelayLine line)
    implements AutoCloseable {
  public static final String LAN = "198.18.4.0/24";
  public static final String WAN_A = "198.18.5.0/24";
  public static final String WAN_B = "198.18.6.0/24";
  public static final String REMOTE_LAN = "198.18.7.0/24";

  /** Every lab address: the stand-in for a default route. */
  public static final String LAB_RANGE = "198.18.0.0/15";

  public static final String CLIENT_IP = "198.18.4.10";
  public static final String GWA_LAN_IP = "198.18.4.1";
  public static final String GWA_WAN_IP = "198.18.5.1";
  public static final String WAN_A_IP = "198.18.5.254";
  public static final String WAN_B_IP = "198.18.6.254";
  public static final String GWB_WAN_IP = "198.18.6.1";
  public static final String GWB_LAN_IP = "198.18.7.1";
  public static final String REMOTE_IP = "198.18.7.10";

  /**
   * Builds the five hosts and four segments in {@code lab} and starts the line with {@code link}.
   */
  public static WanTopology build(Lab lab, WanLink link) {
    Segment lan = lab.segment("lan");
    Segment wana = lab.segment("wana");
    Segment wanb = lab.segment("wanb");
    Segment rlan = lab.segment("rlan");

    Host client = lab.host("client");
    client.attach(lan, CLIENT_IP + "/24");
    client.addRoute(LAB_RANGE, GWA_LAN_IP);

    Host gwa = lab.host("gwa");
    gwa.attach(lan, GWA_LAN_IP + "/24");
    gwa.attach(wana, GWA_WAN_IP + "/24");
    gwa.addRoute(LAB_RANGE, WAN_A_IP);
    gwa.sysctl("net.ipv4.ip_forward", "1");

    Host wan = lab.host("wan");
    String sideA = wan.attach(wana, WAN_A_IP + "/24");
    String sideB = wan.attach(wanb, WAN_B_IP + "/24");
    wan.addRoute(LAN, GWA_WAN_IP);
    wan.addRoute(REMOTE_LAN, GWB_WAN_IP);
    wan.sysctl("net.ipv4.ip_forward", "1");

    Host gwb = lab.host("gwb");
    gwb.attach(wanb, GWB_WAN_IP + "/24");
    gwb.attach(rlan, GWB_LAN_IP + "/24");
    gwb.addRoute(LAN, WAN_B_IP);
    gwb.addRoute(WAN_A, WAN_B_IP);
    gwb.sysctl("net.ipv4.ip_forward", "1");

    Host remote = lab.host("remote");
    remote.attach(rlan, REMOTE_IP + "/24");
    remote.addRoute(LAB_RANGE, GWB_LAN_IP);

    DelayLine line = DelayLine.start(wan, sideA, sideB, List.of(LAN, WAN_A), link);
    return new WanTopology(client, gwa, wan, gwb, remote, line);
  }

  /** Stops the delay line; the hosts stay until the lab closes. */
  @Override
  public void close() {
    line.close();
  }
}
