package io.baton.transplant;

import io.baton.linux.IpText;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The 4-tuple that names a TCP connection from the farm's side: the client's address and port and
 * the local (virtual) address and port it connected to. IPv4 or IPv6, both ends of one family; a
 * v4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) is refused, since Baton's sockets are of one
 * family and such a key would name no socket. Immutable.
 */
public record FlowKey(InetAddress clientIp, int clientPort, InetAddress localIp, int localPort) {
  public FlowKey {
    Objects.requireNonNull(clientIp, "clientIp");
    Objects.requireNonNull(localIp, "localIp");
    checkFamily(clientIp, localIp);
    checkPort("clientPort", clientPort);
    checkPort("localPort", localPort);
  }

  /** The flow of a connection between {@code client} and {@code local}, of one family. */
  public static FlowKey of(InetSocketAddress client, InetSocketAddress local) {
    if (client.getAddress() == null || local.getAddress() == null) {
      throw new IllegalArgumentException("unresolved address in " + client + " -> " + local);
    }
    return new FlowKey(client.getAddress(), client.getPort(), local.getAddress(), local.getPort());
  }

  /** Whether both ends are IPv6. */
  public boolean ipv6() {
    return clientIp instanceof Inet6Address;
  }

  /**
   * Refuses this flow with {@link IllegalArgumentException} when it is IPv6, naming {@code
   * component}, for the parts of Baton that handle IPv4 only (UDP flows, encapsulation, the sync
   * plane's records).
   */
  public FlowKey requireIpv4(String component) {
    if (ipv6()) {
      throw new IllegalArgumentException(component + " handles IPv4 connections only, not " + this);
    }
    return this;
  }

  private static void checkFamily(InetAddress client, InetAddress local) {
    for (InetAddress a : new InetAddress[] {client, local}) {
      if (!(a instanceof Inet4Address) && !(a instanceof Inet6Address)) {
        throw new IllegalArgumentException("not an IP address: " + a);
      }
      if (a instanceof Inet6Address v6 && isV4Mapped(v6.getAddress())) {
        throw new IllegalArgumentException(
            "v4-mapped address "
                + IpText.of(a)
                + ": a connection is IPv4 or IPv6 end to end; use the IPv4 address");
      }
    }
    if (client.getClass() != local.getClass()) {
      throw new IllegalArgumentException(
          "client "
              + IpText.of(client)
              + " and local "
              + IpText.of(local)
              + " are of different families: a TCP connection is IPv4 or IPv6 end to end");
    }
  }

  private static boolean isV4Mapped(byte[] a) {
    for (int i = 0; i < 10; i++) if (a[i] != 0) return false;
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  private static void checkPort(String name, int port) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(name + " must be 1..65535, got " + port);
    }
  }

  public InetSocketAddress client() {
    return new InetSocketAddress(clientIp, clientPort);
  }

  public InetSocketAddress local() {
    return new InetSocketAddress(localIp, localPort);
  }

  @Override
  public String toString() {
    return IpText.withPort(clientIp, clientPort) + "->" + IpText.withPort(localIp, localPort);
  }
}
