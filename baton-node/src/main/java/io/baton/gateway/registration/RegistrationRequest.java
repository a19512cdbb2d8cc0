package io.baton.gateway.registration;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.baton.gateway.wan.WanParameters;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The body of {@code POST /v1/registrations}, as JSON. Unknown fields are refused, so a typo is an
 * error rather than a silent default. {@link #toRegistration} checks every field and says which one
 * is wrong.
 *
 * @param remote the remote server's IPv4 address
 * @param ports the TCP ports to intercept
 * @param peer the peer gateway's tunnel address, {@code ip:port}
 * @param qos CBR, VBR, ABR or UBR (default ABR)
 * @param connections parallel WAN connections (default 4)
 * @param congestionControl default {@code bbr} where available, else {@code cubic}
 * @param windowBytes per-stream window (default 8 MiB)
 * @param sendBufferBytes 0 (default): autotuning
 * @param receiveBufferBytes 0 (default): autotuning
 * @param rateBitsPerSecond the pacing cap of the whole trunk; 0 for none (CBR needs one)
 * @param ttlSeconds how long the entry lives unless renewed (default 300)
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record RegistrationRequest(
    String remote,
    List<Integer> ports,
    String peer,
    String qos,
    Integer connections,
    String congestionControl,
    Integer windowBytes,
    Integer sendBufferBytes,
    Integer receiveBufferBytes,
    Long rateBitsPerSecond,
    Long ttlSeconds) {

  /** Thrown with a message for the registrant (HTTP 400). */
  public static final class InvalidRegistration extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidRegistration(String message) {
      super(message);
    }
  }

  public Registration toRegistration(
      Instant now, Duration maxTtl, Set<String> availableCongestionControl, String from)
      throws InvalidRegistration {
    InetAddress remoteAddress = ipv4("remote", remote);
    if (ports == null || ports.isEmpty())
      throw new InvalidRegistration("ports: at least one port is required");
    for (Integer p : ports) {
      if (p == null || p < 1 || p > 65535)
        throw new InvalidRegistration("ports: " + p + " is not a TCP port");
    }
    if (peer == null)
      throw new InvalidRegistration(
          "peer: the peer gateway's tunnel address (ip:port) is required");
    int colon = peer.lastIndexOf(':');
    if (colon < 0) throw new InvalidRegistration("peer: '" + peer + "' is not ip:port");
    InetAddress peerAddress = ipv4("peer", peer.substring(0, colon));
    int peerPort;
    try {
      peerPort = Integer.parseInt(peer.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new InvalidRegistration("peer: '" + peer + "' is not ip:port");
    }
    if (peerPort < 1 || peerPort > 65535) throw new InvalidRegistration("peer: port " + peerPort);
    QosClass qosClass;
    try {
      qosClass = qos == null ? QosClass.ABR : QosClass.valueOf(qos.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new InvalidRegistration("qos: '" + qos + "' is not one of CBR, VBR, ABR, UBR");
    }
    long rate = rateBitsPerSecond == null ? 0 : rateBitsPerSecond;
    if (rate < 0) throw new InvalidRegistration("rateBitsPerSecond: cannot be negative");
    if (qosClass.needsRate() && rate == 0)
      throw new InvalidRegistration("qos: CBR needs rateBitsPerSecond");
    String cc =
        congestionControl != null
            ? congestionControl
            : availableCongestionControl.contains("bbr") ? "bbr" : "cubic";
    if (!availableCongestionControl.contains(cc)) {
      throw new InvalidRegistration(
          "congestionControl: '"
              + cc
              + "' is not available on this gateway (available: "
              + String.join(" ", availableCongestionControl)
              + ")");
    }
    long ttl = ttlSeconds == null ? 300 : ttlSeconds;
    if (ttl < 1 || ttl > maxTtl.toSeconds()) {
      throw new InvalidRegistration(
          "ttlSeconds: must be 1 to " + maxTtl.toSeconds() + ", got " + ttl);
    }
    WanParameters params;
    try {
      params =
          new WanParameters(
              connections == null ? 4 : connections,
              cc,
              windowBytes == null ? WanParameters.DEFAULT_WINDOW_BYTES : windowBytes,
              sendBufferBytes == null ? 0 : sendBufferBytes,
              receiveBufferBytes == null ? 0 : receiveBufferBytes,
              rate / 8,
              qosClass.dscp());
    } catch (IllegalArgumentException e) {
      throw new InvalidRegistration(e.getMessage());
    }
    return new Registration(
        remoteAddress,
        ports,
        new InetSocketAddress(peerAddress, peerPort),
        qosClass,
        params,
        now.plusSeconds(ttl),
        from);
  }

  private static InetAddress ipv4(String field, String text) throws InvalidRegistration {
    if (text == null) throw new InvalidRegistration(field + ": is required");
    if (!text.matches("\\d{1,3}(\\.\\d{1,3}){3}"))
      throw new InvalidRegistration(field + ": '" + text + "' is not an IPv4 address");
    try {
      return InetAddress.getByName(text);
    } catch (java.net.UnknownHostException e) {
      throw new InvalidRegistration(field + ": '" + text + "' is not an IPv4 address");
    }
  }
}
