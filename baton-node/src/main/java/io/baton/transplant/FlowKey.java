package io.baton.transplant;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * The 4-tuple that names a TCP connection from the farm's side: the client's address and port and
 * the local (virtual) address and port it connected to. IPv4. Immutable.
 */
public record FlowKey(Inet4Address clientIp, int clientPort, Inet4Address localIp, int localPort) {
  public FlowKey {
    Objects.requireNonNull(clientIp, "clientIp");
    Objects.requireNonNull(localIp, "localIp");
    checkPort("clientPort", clientPort);
    checkPort("localPort", localPort);
  }

  /** The flow of a connection between {@code client} and {@code local}; both must be IPv4. */
  public static FlowKey of(java.net.InetSocketAddress client, java.net.InetSocketAddress local) {
    if (!(client.getAddress() instanceof Inet4Address c)
        || !(local.getAddress() instanceof Inet4Address l)) {
      throw new IllegalArgumentException(
          "only IPv4 connections are supported: " + client + " -> " + local);
    }
    return new FlowKey(c, client.getPort(), l, local.getPort());
  }

  private static void checkPort(String name, int port) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(name + " must be 1..65535, got " + port);
    }
  }

  public java.net.InetSocketAddress client() {
    return new java.net.InetSocketAddress(clientIp, clientPort);
  }

  public java.net.InetSocketAddress local() {
    return new java.net.InetSocketAddress(localIp, localPort);
  }

  @Override
  public String toString() {
    return clientIp.getHostAddress()
        + ":"
        + clientPort
        + "->"
        + localIp.getHostAddress()
        + ":"
        + localPort;
  }
}
